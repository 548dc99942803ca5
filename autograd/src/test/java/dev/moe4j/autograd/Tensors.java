package dev.moe4j.autograd;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/** Test inputs: random F64 leaves, contiguous or as strided views. */
public final class Tensors {
    private Tensors() {}

    /** Standard normal F64 leaf that requires a gradient. */
    public static Tensor leaf(Generator gen, int... shape) {
        return Tensor.randn(gen, DType.F64, shape).setRequiresGrad(true);
    }

    /** Uniform on [lo, hi) F64 leaf that requires a gradient. */
    public static Tensor uniformLeaf(Generator gen, double lo, double hi, int... shape) {
        Tensor u = Tensor.rand(gen, DType.F64, shape);
        double[] a = u.toDoubleArray();
        for (int i = 0; i < a.length; i++) a[i] = lo + (hi - lo) * a[i];
        return Tensor.of(a, shape).setRequiresGrad(true);
    }

    /**
     * A non-contiguous F64 leaf of the given 2-D-or-more shape: the transpose of a random tensor with
     * the last two dims swapped, so its last dim has a stride above 1.
     */
    public static Tensor transposedLeaf(Generator gen, int... shape) {
        int[] swapped = shape.clone();
        int r = shape.length;
        swapped[r - 1] = shape[r - 2];
        swapped[r - 2] = shape[r - 1];
        Tensor t = Tensor.randn(gen, DType.F64, swapped).transpose(-2, -1);
        return t.setRequiresGrad(true);
    }

    /** A strided F64 leaf: every other element along the last dim of a larger random tensor. */
    public static Tensor stridedLeaf(Generator gen, int... shape) {
        int[] big = shape.clone();
        big[big.length - 1] = 2 * shape[shape.length - 1];
        return Tensor.randn(gen, DType.F64, big).slice(-1, 0, big[big.length - 1], 2).setRequiresGrad(true);
    }

    /** Random integers in [0, bound) as I64. */
    public static Tensor indices(Generator gen, int bound, int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        long[] a = new long[n];
        for (int i = 0; i < n; i++) a[i] = gen.nextInt(bound);
        return Tensor.of(a, shape);
    }
}
