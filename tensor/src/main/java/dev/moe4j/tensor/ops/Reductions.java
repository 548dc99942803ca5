package dev.moe4j.tensor.ops;

import dev.moe4j.tensor.Tensor;

/** Reductions over dims. (Skeleton: filled in by the reduction kernels work.) */
public final class Reductions {
    private Reductions() {}

    public static Tensor sum(Tensor a, int[] dims, boolean keepDim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor mean(Tensor a, int[] dims, boolean keepDim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor max(Tensor a, int dim, boolean keepDim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor min(Tensor a, int dim, boolean keepDim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor argmax(Tensor a, int dim, boolean keepDim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor argmin(Tensor a, int dim, boolean keepDim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor logsumexp(Tensor a, int dim, boolean keepDim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor var(Tensor a, int[] dims, int correction, boolean keepDim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor softmax(Tensor a, int dim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor logSoftmax(Tensor a, int dim) { throw new UnsupportedOperationException("TODO"); }
}
