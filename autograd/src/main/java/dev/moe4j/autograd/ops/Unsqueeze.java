package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * Inserts a dim of size 1 at {@code dim} (a view).
 *
 * <p>Derivative: the identity on the elements; {@code gx = g.reshape(shape(x))}.
 */
public final class Unsqueeze extends Function {
    private final int dim;

    /** Insert at {@code dim} (may equal the rank). */
    public Unsqueeze(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].unsqueeze(dim); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.reshape(ctx.inputShape(0))}; }
}
