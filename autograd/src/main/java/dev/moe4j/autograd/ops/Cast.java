package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

/**
 * Conversion to another floating-point dtype (F64, F32, BF16, F16).
 *
 * <p>Derivative: the identity, with the gradient converted back to x's dtype:
 * {@code gx = g.to(dtype(x))}.
 */
public final class Cast extends Function {
    private final DType dtype;

    /** Convert to {@code dtype}. */
    public Cast(DType dtype) {
        if (!dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("a differentiable cast needs a floating-point target dtype, got " + dtype);
        }
        this.dtype = dtype;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].to(dtype); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.to(ctx.inputDType(0))}; }
}
