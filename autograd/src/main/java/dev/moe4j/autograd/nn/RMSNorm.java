package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

/**
 * RMS normalization over the last dim (Zhang and Sennrich 2019): [..., d] &rarr; [..., d], scaled by
 * {@code weight} [d] (ones).
 */
public final class RMSNorm extends Module {
    private final int dim;
    private final double eps;
    private final Tensor weight;

    /** eps 1e-6 (as Llama, Mixtral, Qwen and DeepSeek configure it), F32. */
    public RMSNorm(int dim) { this(dim, 1e-6, DType.F32); }

    /**
     * @param dim   d, the normalized size
     * @param eps   added to the mean square
     * @param dtype parameter dtype
     */
    public RMSNorm(int dim, double eps, DType dtype) {
        if (dim <= 0) throw new IllegalArgumentException("RMSNorm size must be positive, got " + dim);
        this.dim = dim;
        this.eps = eps;
        this.weight = registerParameter("weight", Tensor.ones(dtype, dim));
    }

    @Override
    public Tensor forward(Tensor x) { return F.rmsNorm(x, new int[] {dim}, weight, eps); }

    @Override
    protected String describe() { return dim + ", eps=" + eps; }
}
