package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * Shared body of {@link Maximum} and {@link Minimum}: the gradient goes to the operand that won the
 * comparison, and is split in halves on ties (as PyTorch does).
 */
abstract sealed class Extremum extends Function permits Maximum, Minimum {
    private final boolean minimum;

    Extremum(boolean minimum) { this.minimum = minimum; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[0], in[1]);
        return minimum ? in[0].minimum(in[1]) : in[0].maximum(in[1]);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor a = ctx.saved(0), b = ctx.saved(1);
        Tensor tie = a.eq(b).to(g.dtype()).mul(0.5);
        Tensor ga = null, gb = null;
        if (ctx.needsInputGrad(0)) {
            Tensor aWins = (minimum ? a.lt(b) : a.gt(b)).to(g.dtype());
            ga = Broadcasting.sumTo(g.mul(aWins.add(tie)), ctx.inputShape(0));
        }
        if (ctx.needsInputGrad(1)) {
            Tensor bWins = (minimum ? b.lt(a) : b.gt(a)).to(g.dtype());
            gb = Broadcasting.sumTo(g.mul(bWins.add(tie)), ctx.inputShape(1));
        }
        return new Tensor[] {ga, gb};
    }
}
