package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * GELU, tanh approximation: {@code y = x (1 + tanh u) / 2} with
 * {@code u = sqrt(2/pi) (x + 0.044715 x^3)} (Hendrycks and Gimpel 2016).
 *
 * <p>Derivative: dy/dx = (1 + tanh u) / 2 + x (1 - tanh&sup2; u) u&#39; / 2, with
 * u&#39; = sqrt(2/pi) (1 + 3 * 0.044715 x&sup2;).
 */
public final class GeluTanh extends Function {
    private static final double K = Math.sqrt(2 / Math.PI);
    private static final double C = 0.044715;

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        ctx.save(in[0]);
        return in[0].geluTanh();
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor x = ctx.saved(0);
        Tensor x2 = x.mul(x);
        Tensor t = x2.mul(C).add(1.0).mul(x).mul(K).tanh();
        Tensor du = x2.mul(3 * C).add(1.0).mul(K);
        Tensor d = t.add(1.0).mul(0.5).add(x.mul(t.mul(t).neg().add(1.0)).mul(du).mul(0.5));
        return new Tensor[] {g.mul(d)};
    }
}
