package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * The sub-tensor at {@code index} along one dim, that dim removed (a view).
 *
 * <p>Derivative: the gradient is written into that position of a zero tensor of x's shape.
 */
public final class Select extends Function {
    private final int dim, index;

    /** Position {@code index} (negative counts from the end) along {@code dim}. */
    public Select(int dim, int index) {
        this.dim = dim;
        this.index = index;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].select(dim, index); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor gx = Tensor.zeros(g.dtype(), g.device(), ctx.inputShape(0));
        gx.select(dim, index).copyFrom(g);
        return new Tensor[] {gx};
    }
}
