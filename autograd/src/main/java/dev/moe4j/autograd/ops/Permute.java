package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Reorders the dims: dim i of y is dim {@code dims[i]} of x (a view).
 *
 * <p>Derivative: the gradient is permuted by the inverse permutation, {@code inv[dims[i]] = i}.
 */
public final class Permute extends Function {
    private final int[] dims;

    /** The permutation {@code dims}. */
    public Permute(int... dims) { this.dims = dims.clone(); }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].permute(dims); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        int[] inv = new int[dims.length];
        for (int i = 0; i < dims.length; i++) inv[Shape.dim(dims[i], dims.length)] = i;
        return new Tensor[] {g.permute(inv)};
    }
}
