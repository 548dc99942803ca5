package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = sqrt(x)}.
 *
 * <p>Derivative: dy/dx = 1 / (2 sqrt(x)) = 1 / (2y).
 */
public final class Sqrt extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].sqrt();
        ctx.save(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.div(ctx.saved(0)).mul(0.5)}; }
}
