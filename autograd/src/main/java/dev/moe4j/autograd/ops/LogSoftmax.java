package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y_j = x_j - log sum_k exp(x_k)} along one dim.
 *
 * <p>Derivative: dy_j/dx_i = delta_ij - softmax(x)_i, so {@code gx = g - exp(y) * sum_j g_j}.
 */
public final class LogSoftmax extends Function {
    private final int dim;

    /** log(softmax) over {@code dim}. */
    public LogSoftmax(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].logSoftmax(dim);
        ctx.save(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor y = ctx.saved(0);
        return new Tensor[] {g.sub(y.exp().mul(g.sum(dim, true)))};
    }
}
