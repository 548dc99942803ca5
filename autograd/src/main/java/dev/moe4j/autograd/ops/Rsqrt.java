package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = 1 / sqrt(x)}.
 *
 * <p>Derivative: dy/dx = -x^(-3/2) / 2 = -y&sup3; / 2.
 */
public final class Rsqrt extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].rsqrt();
        ctx.save(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor y = ctx.saved(0);
        return new Tensor[] {g.mul(y.mul(y).mul(y)).mul(-0.5)};
    }
}
