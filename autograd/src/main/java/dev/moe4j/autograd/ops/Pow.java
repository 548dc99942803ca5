package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = a ^ b} elementwise with broadcasting.
 *
 * <p>Derivative: dy/da = b * a^(b-1), dy/db = a^b * ln(a). Where a = 0 the second is taken as 0
 * (the limit for b &gt; 0, and PyTorch's convention), so that no NaN from ln(0) reaches the gradient.
 */
public final class Pow extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].pow(in[1]);
        ctx.save(in[0], in[1], ctx.needsInputGrad(1) ? y : null);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor a = ctx.saved(0), b = ctx.saved(1);
        Tensor ga = null, gb = null;
        if (ctx.needsInputGrad(0)) {
            ga = Broadcasting.sumTo(g.mul(b).mul(a.pow(b.sub(1.0))), ctx.inputShape(0));
        }
        if (ctx.needsInputGrad(1)) {
            Tensor zero = Tensor.full(a.dtype(), a.device(), 0);
            Tensor safeLog = Tensor.where(a.eq(zero), Tensor.full(a.dtype(), a.device(), 1), a).log();
            gb = Broadcasting.sumTo(g.mul(ctx.saved(2)).mul(safeLog), ctx.inputShape(1));
        }
        return new Tensor[] {ga, gb};
    }
}
