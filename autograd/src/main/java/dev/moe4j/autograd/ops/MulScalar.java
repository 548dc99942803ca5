package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = x * s} for a constant s.
 *
 * <p>Derivative: dy/dx = s.
 */
public final class MulScalar extends Function {
    private final double s;

    /** x * s. */
    public MulScalar(double s) { this.s = s; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].mul(s); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(s)}; }
}
