package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * SiLU (swish): {@code y = x * s(x)} with s the logistic sigmoid (Hendrycks and Gimpel 2016;
 * Ramachandran et al. 2017).
 *
 * <p>Derivative: dy/dx = s(x) (1 + x (1 - s(x))).
 */
public final class Silu extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[0]);
        return in[0].silu();
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor x = ctx.saved(0);
        Tensor s = x.sigmoid();
        Tensor d = s.mul(x.mul(s.neg().add(1.0)).add(1.0));
        return new Tensor[] {g.mul(d)};
    }
}
