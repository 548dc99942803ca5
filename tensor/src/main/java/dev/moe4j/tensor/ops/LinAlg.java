package dev.moe4j.tensor.ops;

import dev.moe4j.tensor.Tensor;

/** Matrix products. (Skeleton: filled in by the GEMM work.) */
public final class LinAlg {
    private LinAlg() {}

    public static Tensor matmul(Tensor a, Tensor b) { throw new UnsupportedOperationException("TODO"); }
}
