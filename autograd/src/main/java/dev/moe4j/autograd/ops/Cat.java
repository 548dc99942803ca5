package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * Concatenation along one dim: y = [x_0; x_1; ...].
 *
 * <p>Derivative: each input receives its own stretch of the gradient:
 * {@code g_i = g.narrow(dim, offset_i, size_i)} (a view).
 */
public final class Cat extends Function {
    private final int dim;

    /** Concatenate along {@code dim}. */
    public Cat(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return Tensor.cat(Arrays.asList(in), dim); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor[] out = new Tensor[ctx.numInputs()];
        int d = Shape.dim(dim, g.rank());
        int offset = 0;
        for (int i = 0; i < out.length; i++) {
            int size = ctx.inputShape(i)[d];
            if (ctx.needsInputGrad(i)) out[i] = g.narrow(d, offset, size);
            offset += size;
        }
        return out;
    }
}
