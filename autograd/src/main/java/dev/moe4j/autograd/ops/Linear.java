package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Affine map {@code y = x W^T + b}: inputs (x [..., in], W [out, in], b [out] or null) &rarr; y [..., out],
 * as {@code torch.nn.functional.linear}. The leading dims of x are flattened into rows, so every
 * product is one 2-D GEMM; W<sup>T</sup> is a view.
 *
 * <p>Derivative, with X [rows, in] and G [rows, out]: {@code gx = G W}, {@code gW = G^T X},
 * {@code gb = sum over rows of G}.
 */
public final class Linear extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0], w = in[1], b = in.length > 2 ? in[2] : null;
        if (w.rank() != 2 || x.rank() < 1 || x.size(-1) != w.size(1)) {
            throw new IllegalArgumentException("linear: input " + Shape.str(x.shape()) + " does not fit weight " + Shape.str(w.shape())
                    + " (needs x [..., in] and W [out, in])");
        }
        if (b != null && (b.rank() != 1 || b.size(0) != w.size(0))) {
            throw new IllegalArgumentException("linear: bias " + Shape.str(b.shape()) + " does not fit weight " + Shape.str(w.shape()));
        }
        ctx.save(ctx.needsInputGrad(1) ? x : null, ctx.needsInputGrad(0) ? w : null);
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = w.size(0);
        Tensor y = x.reshape(-1, w.size(1)).matmul(w.mT());
        if (b != null) y = y.add(b);
        return y.reshape(outShape);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        int[] xShape = ctx.inputShape(0);
        int[] wShape = ctx.inputShape(1);
        Tensor g2 = g.reshape(-1, wShape[0]);
        Tensor[] out = new Tensor[ctx.numInputs()];
        if (ctx.needsInputGrad(0)) out[0] = g2.matmul(ctx.saved(1)).reshape(xShape);
        if (ctx.needsInputGrad(1)) out[1] = g2.mT().matmul(ctx.saved(0).reshape(-1, wShape[1]));
        if (out.length > 2 && ctx.needsInputGrad(2)) out[2] = g2.sum(0, false);
        return out;
    }
}
