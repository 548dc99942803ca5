package dev.moe4j.tensor.ops;

import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;

import java.util.List;

/** Gather/scatter, sorting and counting. (Skeleton: filled in by the indexing work.) */
public final class Indexing {
    private Indexing() {}

    public static Tensor indexSelect(Tensor a, int dim, Tensor index) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor gather(Tensor a, int dim, Tensor index) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor scatterAdd(Tensor a, int dim, Tensor index, Tensor src) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor indexAdd(Tensor a, int dim, Tensor index, Tensor src) { throw new UnsupportedOperationException("TODO"); }
    public static TopK topk(Tensor a, int k, int dim, boolean largest) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor argsort(Tensor a, int dim, boolean descending) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor cumsum(Tensor a, int dim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor bincount(Tensor a, int minLength) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor cat(List<Tensor> tensors, int dim) { throw new UnsupportedOperationException("TODO"); }
    public static Tensor stack(List<Tensor> tensors, int dim) { throw new UnsupportedOperationException("TODO"); }
}
