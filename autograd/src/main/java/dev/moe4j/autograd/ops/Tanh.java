package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = tanh x}.
 *
 * <p>Derivative: dy/dx = 1 - y&sup2;.
 */
public final class Tanh extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].tanh();
        ctx.save(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor y = ctx.saved(0);
        return new Tensor[] {g.mul(y.mul(y).neg().add(1.0))};
    }
}
