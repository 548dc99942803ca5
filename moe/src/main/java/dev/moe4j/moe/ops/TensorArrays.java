package dev.moe4j.moe.ops;

import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The bridge between tensors and the raw-array kernels: a tensor's elements as a {@code float[]} or
 * {@code double[]} that starts at index 0 and holds exactly {@code numel} elements (the storage
 * array itself when the tensor already is such a view, a row-major copy otherwise), and new
 * tensors wrapping kernel outputs without a copy.
 */
public final class TensorArrays {
    private TensorArrays() {}

    /**
     * The elements of an F32 tensor, row-major, from index 0.
     *
     * @throws IllegalArgumentException when the tensor is not F32
     */
    public static float[] floats(Tensor t) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException("expected an F32 tensor, got " + t.dtype() + " " + Shape.str(t.shape()));
        Tensor c = t.contiguous();
        float[] a = c.cpuStorage().floats();
        if (c.offset() == 0 && a.length == c.numel()) return a;
        float[] out = new float[c.numel()];
        System.arraycopy(a, c.offset(), out, 0, out.length);
        return out;
    }

    /**
     * The elements of an F64 tensor, row-major, from index 0.
     *
     * @throws IllegalArgumentException when the tensor is not F64
     */
    public static double[] doubles(Tensor t) {
        if (t.dtype() != DType.F64) throw new IllegalArgumentException("expected an F64 tensor, got " + t.dtype() + " " + Shape.str(t.shape()));
        Tensor c = t.contiguous();
        double[] a = c.cpuStorage().doubles();
        if (c.offset() == 0 && a.length == c.numel()) return a;
        double[] out = new double[c.numel()];
        System.arraycopy(a, c.offset(), out, 0, out.length);
        return out;
    }

    /** A contiguous F32 tensor over {@code data} (not copied). */
    public static Tensor wrap(float[] data, int... shape) {
        return new Tensor(CpuStorage.of(data), shape, Shape.contiguousStrides(shape), 0);
    }

    /** A contiguous F64 tensor over {@code data} (not copied). */
    public static Tensor wrap(double[] data, int... shape) {
        return new Tensor(CpuStorage.of(data), shape, Shape.contiguousStrides(shape), 0);
    }

    /**
     * Checks that a tensor is F32 or F64 (the compute dtypes of the MoE functions).
     *
     * @throws IllegalArgumentException naming the op and argument otherwise
     */
    public static void requireCompute(String op, String arg, Tensor t) {
        if (t.dtype() != DType.F32 && t.dtype() != DType.F64) {
            throw new IllegalArgumentException(op + ": " + arg + " must be F32 or F64, got " + t.dtype() + " " + Shape.str(t.shape()));
        }
    }

    /**
     * Checks that two tensors share a dtype.
     *
     * @throws IllegalArgumentException naming both otherwise
     */
    public static void requireSameDType(String op, String a, Tensor ta, String b, Tensor tb) {
        if (ta.dtype() != tb.dtype()) {
            throw new IllegalArgumentException(op + ": " + a + " is " + ta.dtype() + " but " + b + " is " + tb.dtype() + "; use one dtype");
        }
    }

    /**
     * Checks a tensor's shape.
     *
     * @throws IllegalArgumentException naming the op, the argument, the wanted and the actual shape
     */
    public static void requireShape(String op, String arg, Tensor t, int... shape) {
        if (!java.util.Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(op + ": " + arg + " has shape " + Shape.str(t.shape()) + ", expected " + Shape.str(shape));
        }
    }
}
