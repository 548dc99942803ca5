package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = 1 / (1 + e^-x)}.
 *
 * <p>Derivative: dy/dx = y (1 - y).
 */
public final class Sigmoid extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].sigmoid();
        ctx.save(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor y = ctx.saved(0);
        return new Tensor[] {g.mul(y.mul(y.neg().add(1.0)))};
    }
}
