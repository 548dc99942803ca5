package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = a / b} elementwise with broadcasting.
 *
 * <p>Derivative: dy/da = 1/b, dy/db = -a/b&sup2;: {@code ga = sumTo(g / b)},
 * {@code gb = sumTo(-g * a / b / b)}.
 */
public final class Div extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(ctx.needsInputGrad(1) ? in[0] : null, in[1]);
        return in[0].div(in[1]);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor b = ctx.saved(1);
        Tensor gOverB = g.div(b);
        return new Tensor[] {
            ctx.needsInputGrad(0) ? Broadcasting.sumTo(gOverB, ctx.inputShape(0)) : null,
            ctx.needsInputGrad(1) ? Broadcasting.sumTo(gOverB.mul(ctx.saved(0)).div(b).neg(), ctx.inputShape(1)) : null};
    }
}
