package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * Removes a dim of size 1 ({@code dim}), or all of them ({@code dim} null) (a view).
 *
 * <p>Derivative: the identity on the elements; {@code gx = g.reshape(shape(x))}.
 */
public final class Squeeze extends Function {
    private final Integer dim;

    /** Squeeze {@code dim}, or every size-1 dim when null. */
    public Squeeze(Integer dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return dim == null ? in[0].squeeze() : in[0].squeeze(dim); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.reshape(ctx.inputShape(0))}; }
}
