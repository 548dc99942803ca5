package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = max(x, 0)}.
 *
 * <p>Derivative: dy/dx = [y &gt; 0] (0 at x = 0, as PyTorch).
 */
public final class Relu extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].relu();
        ctx.save(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor y = ctx.saved(0);
        return new Tensor[] {g.maskedFill(y.le(Tensor.full(y.dtype(), y.device(), 0)), 0.0)};
    }
}
