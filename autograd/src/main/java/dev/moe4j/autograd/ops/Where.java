package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = cond ? a : b} elementwise with broadcasting; inputs (cond, a, b), cond BOOL.
 *
 * <p>Derivative: the gradient goes to whichever operand was picked:
 * {@code ga = sumTo(where(cond, g, 0))}, {@code gb = sumTo(where(cond, 0, g))}.
 */
public final class Where extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[0]);
        return Tensor.where(in[0], in[1], in[2]);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor cond = ctx.saved(0);
        Tensor zero = Tensor.full(g.dtype(), g.device(), 0);
        return new Tensor[] {
            null,
            ctx.needsInputGrad(1) ? Broadcasting.sumTo(Tensor.where(cond, g, zero), ctx.inputShape(1)) : null,
            ctx.needsInputGrad(2) ? Broadcasting.sumTo(Tensor.where(cond, zero, g), ctx.inputShape(2)) : null};
    }
}
