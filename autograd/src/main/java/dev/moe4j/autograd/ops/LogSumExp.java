package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = log sum_j exp(x_j)} along one dim (computed stably, the maximum subtracted first).
 *
 * <p>Derivative: dy/dx_j = exp(x_j - y) = softmax(x)_j: {@code gx = g * exp(x - y)}.
 */
public final class LogSumExp extends Function {
    private final int dim;
    private final boolean keepDim;

    /** Over {@code dim}, keeping it as size 1 when {@code keepDim}. */
    public LogSumExp(int dim, boolean keepDim) {
        this.dim = dim;
        this.keepDim = keepDim;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].logsumexp(dim, keepDim);
        ctx.save(in[0], y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor x = ctx.saved(0), y = ctx.saved(1);
        int[] kept = Broadcasting.keepDimShape(x.shape(), new int[] {dim});
        Tensor p = x.sub(y.reshape(kept)).exp();
        return new Tensor[] {p.mul(g.reshape(kept))};
    }
}
