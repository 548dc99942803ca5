package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;

/**
 * The values of {@code topk(x, k, dim, largest)}, sorted; the indices are not differentiable and
 * can be read with {@link #indices()} after the call.
 *
 * <p>Derivative: 1 for each selected element, 0 for the others: the gradient is scattered back to
 * the selected positions, {@code gx = zeros.scatterAdd(dim, indices, g)}.
 */
public final class TopKValues extends Function {
    private final int k;
    private final int dim;
    private final boolean largest;
    private Tensor indices;

    /** The k largest (or smallest) along {@code dim}. */
    public TopKValues(int k, int dim, boolean largest) {
        this.k = k;
        this.dim = dim;
        this.largest = largest;
    }

    /** The indices (I64) of the selected values, once the op has run. */
    public Tensor indices() {
        if (indices == null) throw new IllegalStateException("TopKValues has not run yet");
        return indices;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        TopK r = in[0].topk(k, dim, largest);
        indices = r.indices();
        ctx.save(r.indices());
        return r.values();
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        return new Tensor[] {Tensor.zeros(g.dtype(), g.device(), ctx.inputShape(0)).scatterAdd(dim, ctx.saved(0), g.contiguous())};
    }
}
