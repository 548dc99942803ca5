package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = ln x}.
 *
 * <p>Derivative: dy/dx = 1/x.
 */
public final class Log extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[0]);
        return in[0].log();
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.div(ctx.saved(0))}; }
}
