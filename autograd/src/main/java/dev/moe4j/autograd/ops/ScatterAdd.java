package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = x} with {@code src[i][j]} added at {@code y[i][index[i][j]]} (dim 1 of a matrix);
 * inputs (x, index, src). Only the part of src covered by index is used, as in PyTorch.
 *
 * <p>Derivative: dy/dx = identity, so {@code gx = g}; each used src element lands on one output
 * element, so {@code gsrc = g.gather(dim, index)} (zero on the part of src that index does not cover).
 */
public final class ScatterAdd extends Function {
    private final int dim;

    /** Scatter-add along {@code dim}. */
    public ScatterAdd(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[1]);
        return in[0].scatterAdd(dim, in[1], in[2]);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor gsrc = null;
        if (ctx.needsInputGrad(2)) {
            Tensor index = ctx.saved(0);
            Tensor picked = g.gather(dim, index);
            int[] srcShape = ctx.inputShape(2);
            if (java.util.Arrays.equals(srcShape, index.shape())) {
                gsrc = picked;
            } else {
                gsrc = Tensor.zeros(g.dtype(), g.device(), srcShape);
                Tensor region = gsrc;
                for (int d = 0; d < srcShape.length; d++) region = region.narrow(d, 0, index.size(d));
                region.copyFrom(picked);
            }
        }
        return new Tensor[] {ctx.needsInputGrad(0) ? g : null, null, gsrc};
    }
}
