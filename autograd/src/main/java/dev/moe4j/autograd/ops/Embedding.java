package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Embedding lookup: inputs (indices [...] I64/I32, weight [V, d]) &rarr; y [..., d] with
 * {@code y[..., :] = weight[indices[...], :]}.
 *
 * <p>Derivative: each weight row receives the sum of the gradients of the positions that looked it
 * up: {@code gweight = zeros([V, d]).indexAdd(0, flat(indices), g.reshape(-1, d))}.
 */
public final class Embedding extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor idx = in[0], w = in[1];
        if (idx.dtype() != DType.I64 && idx.dtype() != DType.I32) {
            throw new IllegalArgumentException("embedding indices must be I64 or I32, got " + idx.dtype());
        }
        if (w.rank() != 2) throw new IllegalArgumentException("embedding weight must be [V, d], got " + Shape.str(w.shape()));
        Tensor flat = idx.reshape(-1);
        ctx.save(flat);
        int[] outShape = new int[idx.rank() + 1];
        System.arraycopy(idx.shape(), 0, outShape, 0, idx.rank());
        outShape[idx.rank()] = w.size(1);
        return w.indexSelect(0, flat).reshape(outShape);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        int[] wShape = ctx.inputShape(1);
        Tensor gw = Tensor.zeros(g.dtype(), g.device(), wShape).indexAdd(0, ctx.saved(0), g.reshape(-1, wShape[1]));
        return new Tensor[] {null, gw};
    }
}
