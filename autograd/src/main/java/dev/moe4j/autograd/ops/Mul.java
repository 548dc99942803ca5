package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = a * b} elementwise with broadcasting.
 *
 * <p>Derivative: dy/da = b, dy/db = a: {@code ga = sumTo(g * b)}, {@code gb = sumTo(g * a)}. Only the
 * operand the other gradient needs is saved.
 */
public final class Mul extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(ctx.needsInputGrad(1) ? in[0] : null, ctx.needsInputGrad(0) ? in[1] : null);
        return in[0].mul(in[1]);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        return new Tensor[] {
            ctx.needsInputGrad(0) ? Broadcasting.sumTo(g.mul(ctx.saved(1)), ctx.inputShape(0)) : null,
            ctx.needsInputGrad(1) ? Broadcasting.sumTo(g.mul(ctx.saved(0)), ctx.inputShape(1)) : null};
    }
}
