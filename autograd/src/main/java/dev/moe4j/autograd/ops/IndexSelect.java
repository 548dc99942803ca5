package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y[.., j, ..] = x[.., index[j], ..]} along one dim; inputs (x, index), index a 1-D integer
 * tensor whose entries may repeat.
 *
 * <p>Derivative: each x row receives the sum of the gradients of the output rows that copied it:
 * {@code gx = zeros(shape(x)).indexAdd(dim, index, g)}. The index gets no gradient.
 */
public final class IndexSelect extends Function {
    private final int dim;

    /** Selection along {@code dim}. */
    public IndexSelect(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[1]);
        return in[0].indexSelect(dim, in[1]);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor gx = Tensor.zeros(g.dtype(), g.device(), ctx.inputShape(0)).indexAdd(dim, ctx.saved(0), g);
        return new Tensor[] {gx, null};
    }
}
