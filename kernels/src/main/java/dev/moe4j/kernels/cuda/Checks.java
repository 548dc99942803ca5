package dev.moe4j.kernels.cuda;

/** Argument checks of the device launchers: sizes against buffer lengths, before anything is enqueued. */
final class Checks {
    private Checks() {}

    /**
     * @throws IllegalArgumentException when {@code buffer} is null or shorter than {@code elements * elementBytes}
     */
    static void buffer(String name, DeviceBuffer buffer, long elements, int elementBytes, String shape) {
        if (buffer == null) throw new IllegalArgumentException(name + " " + shape + " is null");
        long need = elements * elementBytes;
        if (buffer.bytes() < need) {
            throw new IllegalArgumentException(name + " " + shape + " needs " + need + " bytes, the device buffer has " + buffer.bytes());
        }
    }

    /** Like {@link #buffer}, but {@code null} is allowed (an output that is not wanted). */
    static void optional(String name, DeviceBuffer buffer, long elements, int elementBytes, String shape) {
        if (buffer != null) buffer(name, buffer, elements, elementBytes, shape);
    }

    /** @throws IllegalArgumentException when the buffers live on different devices */
    static CudaDevice sameDevice(DeviceBuffer... buffers) {
        CudaDevice d = null;
        for (DeviceBuffer b : buffers) {
            if (b == null) continue;
            if (d == null) d = b.device();
            else if (b.device() != d) throw new IllegalArgumentException("device buffers on " + d + " and " + b.device() + ": all operands must be on one device");
        }
        if (d == null) throw new IllegalArgumentException("no device buffer given");
        return d;
    }

    static void nonNegative(String what, long v) {
        if (v < 0) throw new IllegalArgumentException(what + " must be >= 0, got " + v);
    }

    static int toInt(String what, long v) {
        if (v > Integer.MAX_VALUE) throw new IllegalArgumentException(what + " = " + v + " exceeds the 32-bit indices of the kernels");
        return (int) v;
    }
}
