package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y_j = exp(x_j) / sum_k exp(x_k)} along one dim.
 *
 * <p>Derivative: dy_j/dx_i = y_j (delta_ij - y_i), so the vector-Jacobian product is
 * {@code gx = y * (g - sum_j g_j y_j)}; only the output is saved.
 */
public final class Softmax extends Function {
    private final int dim;

    /** Softmax over {@code dim}. */
    public Softmax(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].softmax(dim);
        ctx.save(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor y = ctx.saved(0);
        Tensor dot = g.mul(y).sum(dim, true);
        return new Tensor[] {y.mul(g.sub(dot))};
    }
}
