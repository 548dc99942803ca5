package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * The largest (or, for {@link #min}, the smallest) element along one dim: {@code y = max_j x[.., j, ..]}.
 *
 * <p>Derivative: 1 for the selected element, 0 for the others. The selected element is the one
 * {@code argmax} reports (the lowest index among ties, as {@code torch.max(dim)} returns), and the
 * gradient is scattered there: {@code gx = zeros.scatterAdd(dim, argmax, g)}.
 */
public final class MaxDim extends Function {
    private final int dim;
    private final boolean keepDim;
    private final boolean smallest;

    private MaxDim(int dim, boolean keepDim, boolean smallest) {
        this.dim = dim;
        this.keepDim = keepDim;
        this.smallest = smallest;
    }

    /** The maximum over {@code dim}. */
    public static MaxDim max(int dim, boolean keepDim) { return new MaxDim(dim, keepDim, false); }

    /** The minimum over {@code dim}. */
    public static MaxDim min(int dim, boolean keepDim) { return new MaxDim(dim, keepDim, true); }

    @Override
    public String name() { return smallest ? "MinDim" : "MaxDim"; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0];
        if (ctx.needsInputGrad(0)) ctx.save(smallest ? x.argmin(dim, true) : x.argmax(dim, true));
        return smallest ? x.min(dim, keepDim) : x.max(dim, keepDim);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor index = ctx.saved(0);
        Tensor gKeep = g.reshape(index.shape());
        return new Tensor[] {Tensor.zeros(g.dtype(), g.device(), ctx.inputShape(0)).scatterAdd(dim, index, gKeep)};
    }
}
