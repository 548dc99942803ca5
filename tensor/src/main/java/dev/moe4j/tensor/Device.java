package dev.moe4j.tensor;

/**
 * Where a tensor's storage lives. {@link #CPU} always works; CUDA devices appear when a GPU and its
 * driver are found.
 *
 * @param type  the device type
 * @param index the device ordinal ({@code 0} for the CPU)
 */
public record Device(Type type, int index) {

    /** Device types. */
    public enum Type { CPU, CUDA }

    /** The host CPU. */
    public static final Device CPU = new Device(Type.CPU, 0);

    public Device {
        if (index < 0) throw new IllegalArgumentException("device index must be >= 0, got " + index);
    }

    /** The CUDA device with ordinal {@code i}. */
    public static Device cuda(int i) { return new Device(Type.CUDA, i); }

    /** True for the CPU. */
    public boolean isCpu() { return type == Type.CPU; }

    @Override
    public String toString() { return type == Type.CPU ? "cpu" : "cuda:" + index; }
}
