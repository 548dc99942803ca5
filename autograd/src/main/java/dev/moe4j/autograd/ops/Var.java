package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Variance over dims: {@code y = sum (x - mean)^2 / (n - correction)}; correction 1 is the unbiased
 * estimate (PyTorch's default), 0 the population variance.
 *
 * <p>Derivative: dy/dx_i = 2 (x_i - mean) / (n - correction) (the mean's own dependence on x_i
 * cancels, since the deviations sum to zero).
 */
public final class Var extends Function {
    private final int[] dims;
    private final int correction;
    private final boolean keepDim;

    /**
     * @param dims       dims to reduce; null for all
     * @param correction subtracted from the count in the denominator
     * @param keepDim    keep reduced dims as size 1
     */
    public Var(int[] dims, int correction, boolean keepDim) {
        this.dims = dims == null ? null : dims.clone();
        this.correction = correction;
        this.keepDim = keepDim;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[0]);
        return in[0].var(dims, correction, keepDim);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor x = ctx.saved(0);
        int[] shape = x.shape();
        int[] kept = Broadcasting.keepDimShape(shape, dims);
        long n = Shape.numel(shape) / Math.max(1, Shape.numel(kept));
        Tensor centered = x.sub(x.mean(dims, true));
        return new Tensor[] {centered.mul(g.reshape(kept)).mul(2.0 / (n - correction))};
    }
}
