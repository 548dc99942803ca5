package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = mean of x over dims} (all dims when {@code dims} is null).
 *
 * <p>Derivative: dy/dx_i = 1/n for each of the n elements averaged into y:
 * {@code gx = expand(g) / n}.
 */
public final class Mean extends Function {
    private final int[] dims;
    private final boolean keepDim;

    /**
     * @param dims    dims to reduce (negative counts from the end); null for all
     * @param keepDim keep reduced dims as size 1
     */
    public Mean(int[] dims, boolean keepDim) {
        this.dims = dims == null ? null : dims.clone();
        this.keepDim = keepDim;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].mean(dims, keepDim); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        int[] shape = ctx.inputShape(0);
        int[] kept = Broadcasting.keepDimShape(shape, dims);
        long n = Shape.numel(shape) / Math.max(1, Shape.numel(kept));
        return new Tensor[] {g.div((double) n).reshape(kept).expand(shape)};
    }
}
