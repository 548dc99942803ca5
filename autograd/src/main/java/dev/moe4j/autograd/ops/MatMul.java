package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Matrix product {@code Y = A B}: A [..., m, k], B [..., k, n] &rarr; Y [..., m, n], the batch dims
 * broadcast against each other. Both operands have rank 2 or more (the differentiable API turns
 * 1-D operands into matrices first, as PyTorch does).
 *
 * <p>Derivative: for Y = A B, dL/dA = dL/dY B<sup>T</sup> and dL/dB = A<sup>T</sup> dL/dY, each summed
 * over the batch dims its operand was broadcast along. When B is a plain matrix shared by every batch
 * entry, dL/dB is one product over the batch flattened into rows: A [(...)m, k]<sup>T</sup> G [(...)m, n].
 * The transposes are views, so no operand is copied for them.
 */
public final class MatMul extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor a = in[0], b = in[1];
        if (a.rank() < 2 || b.rank() < 2) {
            throw new IllegalArgumentException("MatMul needs operands of rank >= 2, got shapes " + Shape.str(a.shape()) + " and " + Shape.str(b.shape()));
        }
        ctx.save(ctx.needsInputGrad(1) ? a : null, ctx.needsInputGrad(0) ? b : null);
        return a.matmul(b);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor ga = null, gb = null;
        if (ctx.needsInputGrad(0)) {
            Tensor b = ctx.saved(1);
            ga = Broadcasting.sumTo(g.matmul(b.mT()), ctx.inputShape(0));
        }
        if (ctx.needsInputGrad(1)) {
            Tensor a = ctx.saved(0);
            int[] bShape = ctx.inputShape(1);
            if (bShape.length == 2 && a.rank() > 2) {
                int k = a.size(-1), n = g.size(-1);
                gb = a.reshape(-1, k).mT().matmul(g.reshape(-1, n));
            } else {
                gb = Broadcasting.sumTo(a.mT().matmul(g), bShape);
            }
        }
        return new Tensor[] {ga, gb};
    }
}
