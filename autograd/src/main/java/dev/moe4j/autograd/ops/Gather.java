package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * Gather along one dim: {@code y[i][j] = x[i][index[i][j]]} (for dim 1 of a matrix); inputs (x, index).
 *
 * <p>Derivative: the adjoint of a gather is a scatter-add:
 * {@code gx = zeros(shape(x)).scatterAdd(dim, index, g)}. The index gets no gradient.
 */
public final class Gather extends Function {
    private final int dim;

    /** Gather along {@code dim}. */
    public Gather(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[1]);
        return in[0].gather(dim, in[1]);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor gx = Tensor.zeros(g.dtype(), g.device(), ctx.inputShape(0)).scatterAdd(dim, ctx.saved(0), g.contiguous());
        return new Tensor[] {gx, null};
    }
}
