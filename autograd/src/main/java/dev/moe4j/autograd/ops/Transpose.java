package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * Swaps two dims (a view).
 *
 * <p>Derivative: a permutation of the elements, undone by swapping the same dims of the gradient:
 * {@code gx = g.transpose(d0, d1)}.
 */
public final class Transpose extends Function {
    private final int d0, d1;

    /** Swap {@code d0} and {@code d1}. */
    public Transpose(int d0, int d1) {
        this.d0 = d0;
        this.d1 = d1;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].transpose(d0, d1); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.transpose(d0, d1)}; }
}
