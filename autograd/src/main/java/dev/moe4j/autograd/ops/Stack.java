package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * Stacks equal-shaped tensors along a new dim.
 *
 * <p>Derivative: input i receives the gradient's slice i along that dim: {@code g_i = g.select(dim, i)}.
 */
public final class Stack extends Function {
    private final int dim;

    /** Stack along the new dim {@code dim}. */
    public Stack(int dim) { this.dim = dim; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return Tensor.stack(Arrays.asList(in), dim); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor[] out = new Tensor[ctx.numInputs()];
        int d = dim < 0 ? dim + g.rank() : dim;
        for (int i = 0; i < out.length; i++) {
            if (ctx.needsInputGrad(i)) out[i] = g.select(d, i);
        }
        return out;
    }
}
