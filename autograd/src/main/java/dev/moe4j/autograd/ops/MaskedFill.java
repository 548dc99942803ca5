package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = mask ? value : x}, the BOOL mask broadcast to x's shape; inputs (x, mask).
 *
 * <p>Derivative: 1 where the mask is false, 0 where x was replaced: {@code gx = g.maskedFill(mask, 0)}.
 */
public final class MaskedFill extends Function {
    private final double value;

    /** Fill with {@code value}. */
    public MaskedFill(double value) { this.value = value; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[1]);
        return in[0].maskedFill(in[1], value);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        return new Tensor[] {g.maskedFill(ctx.saved(0), 0.0), null};
    }
}
