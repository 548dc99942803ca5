package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = a + b} with broadcasting.
 *
 * <p>Derivative: dy/da = dy/db = 1, so {@code ga = sumTo(g, shape(a))}, {@code gb = sumTo(g, shape(b))}
 * (the sums undo the broadcast).
 */
public final class Add extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].add(in[1]); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        return new Tensor[] {
            ctx.needsInputGrad(0) ? Broadcasting.sumTo(g, ctx.inputShape(0)) : null,
            ctx.needsInputGrad(1) ? Broadcasting.sumTo(g, ctx.inputShape(1)) : null};
    }
}
