package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = a - b} with broadcasting.
 *
 * <p>Derivative: dy/da = 1, dy/db = -1: {@code ga = sumTo(g)}, {@code gb = -sumTo(g)}.
 */
public final class Sub extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].sub(in[1]); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        return new Tensor[] {
            ctx.needsInputGrad(0) ? Broadcasting.sumTo(g, ctx.inputShape(0)) : null,
            ctx.needsInputGrad(1) ? Broadcasting.sumTo(g, ctx.inputShape(1)).neg() : null};
    }
}
