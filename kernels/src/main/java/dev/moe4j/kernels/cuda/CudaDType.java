package dev.moe4j.kernels.cuda;

/** Element types of the device kernels' floating-point operands. Computation is in float for both. */
public enum CudaDType {
    /** IEEE float, 4 bytes. */
    F32(4),
    /** bfloat16 (the top 16 bits of a float), 2 bytes; rounded to nearest even when written. */
    BF16(2);

    private final int bytes;

    CudaDType(int bytes) { this.bytes = bytes; }

    /** Bytes per element. */
    public int bytes() { return bytes; }

    /** Elements per 16-byte vector (4 floats, 8 bf16). */
    public int perVector() { return 16 / bytes; }

    /** The kernel-name suffix: {@code f32} or {@code bf16}. */
    String suffix() { return this == F32 ? "f32" : "bf16"; }
}
