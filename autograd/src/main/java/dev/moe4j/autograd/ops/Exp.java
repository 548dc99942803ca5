package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = e^x}.
 *
 * <p>Derivative: dy/dx = e^x = y (the output is saved, not the input).
 */
public final class Exp extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].exp();
        ctx.save(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(ctx.saved(0))}; }
}
