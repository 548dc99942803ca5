package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * Broadcasts x to a larger shape (a view with stride 0 on the stretched dims).
 *
 * <p>Derivative: each x element is read by every output element it was stretched to, so the
 * gradient is summed over the new and stretched dims: {@code gx = sumTo(g, shape(x))}.
 */
public final class Expand extends Function {
    private final int[] shape;

    /** Expand to {@code shape} ({@code -1} keeps a dim). */
    public Expand(int... shape) { this.shape = shape.clone(); }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].expand(shape); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {Broadcasting.sumTo(g, ctx.inputShape(0))}; }
}
