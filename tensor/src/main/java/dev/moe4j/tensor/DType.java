package dev.moe4j.tensor;

/**
 * Element types of a {@link Tensor}.
 *
 * <ul>
 *   <li>{@link #F32} is the main compute type, {@link #F64} the type of references and gradient checks.</li>
 *   <li>{@link #BF16} and {@link #F16} are storage types: they are converted to {@code F32} with
 *       round-to-nearest-even, NaN and infinities preserved, and computed in {@code F32}.</li>
 *   <li>{@link #I64} and {@link #I32} hold indices, {@link #BOOL} holds masks;
 *       {@link #I16}, {@link #I8} and {@link #U8} exist so that every safetensors file can be read.</li>
 * </ul>
 */
public enum DType {
    F64(8, "F64", Kind.FLOAT),
    F32(4, "F32", Kind.FLOAT),
    BF16(2, "BF16", Kind.FLOAT),
    F16(2, "F16", Kind.FLOAT),
    I64(8, "I64", Kind.INTEGER),
    I32(4, "I32", Kind.INTEGER),
    I16(2, "I16", Kind.INTEGER),
    I8(1, "I8", Kind.INTEGER),
    U8(1, "U8", Kind.INTEGER),
    BOOL(1, "BOOL", Kind.BOOL);

    private enum Kind { FLOAT, INTEGER, BOOL }

    private final int byteSize;
    private final String safetensorsName;
    private final Kind kind;

    DType(int byteSize, String safetensorsName, Kind kind) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
        this.kind = kind;
    }

    /** Bytes per element. */
    public int byteSize() { return byteSize; }

    /** The dtype's name in a safetensors header, e.g. {@code "BF16"}. */
    public String safetensorsName() { return safetensorsName; }

    /** True for F64, F32, BF16, F16. */
    public boolean isFloatingPoint() { return kind == Kind.FLOAT; }

    /** True for the signed and unsigned integer types (not BOOL). */
    public boolean isInteger() { return kind == Kind.INTEGER; }

    /** True for F64 and F32: the types the kernels compute in. */
    public boolean isCompute() { return this == F32 || this == F64; }

    /** True for BF16 and F16: stored in 16 bits, computed in F32. */
    public boolean isHalf() { return this == BF16 || this == F16; }

    /**
     * The dtype whose safetensors name is {@code name}.
     *
     * @throws IllegalArgumentException naming the unknown dtype and the accepted ones
     */
    public static DType fromSafetensorsName(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) return t;
        }
        throw new IllegalArgumentException("unknown dtype '" + name + "'; accepted: F64, F32, BF16, F16, I64, I32, I16, I8, U8, BOOL");
    }

    /**
     * The type two operands are computed in, as PyTorch promotes them: a floating type wins over an
     * integer type, F64 over F32, F32 over the half types; BOOL is promoted to anything else.
     */
    public static DType promote(DType a, DType b) {
        if (a == b) return a;
        if (a == F64 || b == F64) return F64;
        if (a == F32 || b == F32) return F32;
        if (a.isHalf() && b.isHalf()) return F32;
        if (a.isHalf()) return a;
        if (b.isHalf()) return b;
        if (a == BOOL) return b;
        if (b == BOOL) return a;
        if (a == I64 || b == I64) return I64;
        if (a == I32 || b == I32) return I32;
        if (a == I16 || b == I16) return I16;
        return I16; // I8 with U8, as PyTorch does
    }
}
