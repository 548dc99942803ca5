package dev.moe4j.tensor;

/**
 * The device rule of tensor operations: every tensor operand of one operation lives on one device.
 * Operations check it first, so mixing a CPU tensor with a CUDA one fails with a message naming both
 * devices instead of deep inside a kernel.
 */
public final class Devices {
    private Devices() {}

    /**
     * @param op      the operation's name, for the message
     * @param tensors the operands (null entries are skipped)
     * @throws IllegalArgumentException when two operands are on different devices
     */
    public static void requireSame(String op, Tensor... tensors) {
        Device first = null;
        for (Tensor t : tensors) {
            if (t == null) continue;
            if (first == null) first = t.device();
            else if (!first.equals(t.device())) {
                throw new IllegalArgumentException(op + " of tensors on " + first + " and " + t.device()
                        + ": all operands must be on one device (move them with Tensor.to(Device))");
            }
        }
    }
}
