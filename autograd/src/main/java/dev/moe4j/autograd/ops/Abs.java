package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = |x|}.
 *
 * <p>Derivative: dy/dx = sign(x), with sign(0) = 0 (as PyTorch).
 */
public final class Abs extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[0]);
        return in[0].abs();
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor x = ctx.saved(0);
        Tensor zero = Tensor.full(x.dtype(), x.device(), 0);
        Tensor sign = x.gt(zero).to(g.dtype()).sub(x.lt(zero).to(g.dtype()));
        return new Tensor[] {g.mul(sign)};
    }
}
