package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * GELU, exact form: {@code y = x * Phi(x)}, Phi the standard normal CDF,
 * {@code Phi(x) = (1 + erf(x / sqrt 2)) / 2} (Hendrycks and Gimpel 2016).
 *
 * <p>Derivative: dy/dx = Phi(x) + x * phi(x), with phi(x) = e^(-x&sup2;/2) / sqrt(2 pi). Phi(x) is read
 * back from the forward as y / x (and 1/2 at x = 0), so no separate erf is needed.
 */
public final class Gelu extends Function {
    private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2 * Math.PI);

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor y = in[0].gelu();
        ctx.save(in[0], y);
        return y;
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor x = ctx.saved(0), y = ctx.saved(1);
        Tensor zero = Tensor.full(x.dtype(), x.device(), 0);
        Tensor isZero = x.eq(zero);
        Tensor safeX = Tensor.where(isZero, Tensor.full(x.dtype(), x.device(), 1), x);
        Tensor cdf = Tensor.where(isZero, Tensor.full(x.dtype(), x.device(), 0.5), y.div(safeX));
        Tensor pdf = x.mul(x).mul(-0.5).exp().mul(INV_SQRT_2PI);
        return new Tensor[] {g.mul(cdf.add(x.mul(pdf)))};
    }
}
