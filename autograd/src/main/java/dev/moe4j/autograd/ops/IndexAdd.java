package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = x} with slice j of src added to slice {@code index[j]} of x along one dim; inputs
 * (x, index, src), index 1-D.
 *
 * <p>Derivative: {@code gx = g}, and each src slice receives the gradient of the slice it was added
 * to: {@code gsrc = g.indexSelect(dim, index)}.
 */
public final class IndexAdd extends Function {
    private final int dim;

    /** Index-add along {@code dim}. */
    public IndexAdd(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[1]);
        return in[0].indexAdd(dim, in[1], in[2]);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        return new Tensor[] {
            ctx.needsInputGrad(0) ? g : null,
            null,
            ctx.needsInputGrad(2) ? g.indexSelect(dim, ctx.saved(0)) : null};
    }
}
