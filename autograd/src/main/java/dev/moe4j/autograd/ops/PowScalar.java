package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = x ^ p} for a constant exponent p.
 *
 * <p>Derivative: dy/dx = p * x^(p-1) (0 for p = 0).
 */
public final class PowScalar extends Function {
    private final double p;

    /** x ^ p. */
    public PowScalar(double p) { this.p = p; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[0]);
        return in[0].pow(p);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (p == 0) return new Tensor[] {Tensor.zerosLike(g)};
        Tensor x = ctx.saved(0);
        Tensor d = p == 1 ? g : p == 2 ? g.mul(x).mul(2.0) : g.mul(x.pow(p - 1)).mul(p);
        return new Tensor[] {d};
    }
}
