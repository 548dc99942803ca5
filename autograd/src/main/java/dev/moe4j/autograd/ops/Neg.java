package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * {@code y = -x}.
 *
 * <p>Derivative: dy/dx = -1.
 */
public final class Neg extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return in[0].neg(); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.neg()}; }
}
