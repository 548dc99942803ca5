package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * Elements {@code start, start+step, ...} below {@code end} along one dim (a view; {@code narrow} is
 * the case step = 1).
 *
 * <p>Derivative: 1 for each kept element, 0 for the others: the gradient is written into the same
 * slice of a zero tensor of x's shape.
 */
public final class Slice extends Function {
    private final int dim, start, end, step;

    /** Slice {@code [start, end)} with {@code step} along {@code dim} (negative start/end count from the end). */
    public Slice(int dim, int start, int end, int step) {
        this.dim = dim;
        this.start = start;
        this.end = end;
        this.step = step;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].slice(dim, start, end, step); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor gx = Tensor.zeros(g.dtype(), g.device(), ctx.inputShape(0));
        gx.slice(dim, start, end, step).copyFrom(g);
        return new Tensor[] {gx};
    }
}
