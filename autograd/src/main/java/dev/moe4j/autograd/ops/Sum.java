package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = sum of x over dims} (all dims when {@code dims} is null), keeping the reduced dims as
 * size 1 when {@code keepDim}.
 *
 * <p>Derivative: dy/dx_i = 1 for every element summed into y, so the gradient is g broadcast back
 * over the reduced dims: {@code gx = g.reshape(keepdim shape).expand(shape(x))} (a view, no copy).
 */
public final class Sum extends Function {
    private final int[] dims;
    private final boolean keepDim;

    /**
     * @param dims    dims to reduce (negative counts from the end); null for all
     * @param keepDim keep reduced dims as size 1
     */
    public Sum(int[] dims, boolean keepDim) {
        this.dims = dims == null ? null : dims.clone();
        this.keepDim = keepDim;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].sum(dims, keepDim); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        int[] shape = ctx.inputShape(0);
        return new Tensor[] {g.reshape(Broadcasting.keepDimShape(shape, dims)).expand(shape)};
    }
}
