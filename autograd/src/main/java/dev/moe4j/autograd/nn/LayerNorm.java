package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

/**
 * Layer normalization over the last dim (Ba et al. 2016): [..., d] &rarr; [..., d], with
 * {@code weight} (ones) and {@code bias} (zeros) [d] when affine.
 */
public final class LayerNorm extends Module {
    private final int dim;
    private final double eps;
    private final Tensor weight, bias;

    /** Affine, eps 1e-5 (PyTorch's default), F32. */
    public LayerNorm(int dim) { this(dim, 1e-5, true, DType.F32); }

    /**
     * @param dim    d, the normalized size
     * @param eps    added to the variance
     * @param affine learn weight and bias
     * @param dtype  parameter dtype
     */
    public LayerNorm(int dim, double eps, boolean affine, DType dtype) {
        if (dim <= 0) throw new IllegalArgumentException("LayerNorm size must be positive, got " + dim);
        this.dim = dim;
        this.eps = eps;
        this.weight = affine ? registerParameter("weight", Tensor.ones(dtype, dim)) : null;
        this.bias = affine ? registerParameter("bias", Tensor.zeros(dtype, dim)) : null;
    }

    @Override
    public Tensor forward(Tensor x) { return F.layerNorm(x, new int[] {dim}, weight, bias, eps); }

    @Override
    protected String describe() { return dim + ", eps=" + eps; }
}
