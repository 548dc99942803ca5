package dev.moe4j.moe.balance;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.kernels.cpu.Erf;
import dev.moe4j.moe.ops.DeviceOps;
import dev.moe4j.moe.ops.TensorArrays;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

/**
 * The standard normal cumulative distribution function, element-wise, as a differentiable function:
 * {@code Phi(z) = (1 + erf(z / sqrt 2)) / 2 = erfc(-z / sqrt 2) / 2} (the erfc form keeps precision
 * in the lower tail). Derivative: the density {@code phi(z) = exp(-z^2 / 2) / sqrt(2 pi)}.
 * F32 or F64 on the CPU, computed in double.
 *
 * <p>On a CUDA device (F32 or BF16) it is composed of device ops in F32, with the Chebyshev-fitted
 * erfc of Numerical Recipes (section 6.2, {@code erfcc}): for u &gt;= 0, t = 1 / (1 + u / 2),
 * <pre>
 *   erfc(u) = t exp(-u^2 - 1.26551223 + t (1.00002368 + t (0.37409196 + t (0.09678418 + t (-0.18628806
 *             + t (0.27886807 + t (-1.13520398 + t (1.48851587 + t (-0.82215223 + t 0.17087277)))))))))
 *   erfc(-u) = 2 - erfc(u)
 * </pre>
 * whose fractional error is below 1.2e-7 everywhere, so the lower tail keeps its relative precision
 * as on the CPU (down to the F32 range); the result is cast to the input's dtype.
 */
public final class NormalCdf extends Function {
    private static final double INV_SQRT_2 = 1 / Math.sqrt(2);
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
    /** Coefficients of the erfc fit, highest power of t first. */
    private static final double[] ERFC_FIT = {0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
            0.09678418, 0.37409196, 1.00002368, -1.26551223};

    /** Creates the function (one instance per call). */
    public NormalCdf() {}

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor z = in[0];
        DeviceOps.requireCompute("normal cdf", "z", z);
        ctx.save(z);
        if (DeviceOps.onCuda(z)) return composed(z.to(DType.F32)).to(z.dtype());
        double[] v = z.toDoubleArray(), out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = 0.5 * Erf.erfc(-v[i] * INV_SQRT_2);
        return TensorArrays.wrap(out, z.shape()).to(z.dtype());
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        Tensor z = ctx.saved(0);
        if (DeviceOps.onCuda(z)) {
            Tensor z32 = z.to(DType.F32);
            Tensor density = z32.mul(z32).mul(-0.5).exp().mul(INV_SQRT_2PI);
            return new Tensor[] {g.to(DType.F32).mul(density).to(ctx.inputDType(0))};
        }
        double[] v = z.toDoubleArray(), dg = g.toDoubleArray(), dz = new double[v.length];
        for (int i = 0; i < v.length; i++) dz[i] = dg[i] * INV_SQRT_2PI * Math.exp(-0.5 * v[i] * v[i]);
        DType t = ctx.inputDType(0);
        return new Tensor[] {TensorArrays.wrap(dz, z.shape()).to(t)};
    }

    /**
     * Phi(z) = erfc(-z / sqrt 2) / 2 of an F32 tensor from the erfc fit above, composed of tensor ops
     * (the device branch; the ops run on any device).
     */
    static Tensor composed(Tensor z) {
        Tensor v = z.mul(-INV_SQRT_2);                             // erfc argument
        Tensor u = v.abs();
        Tensor t = Tensor.onesLike(u).div(u.mul(0.5).add(1.0));
        Tensor poly = t.mul(ERFC_FIT[0]).add(ERFC_FIT[1]);
        for (int i = 2; i < ERFC_FIT.length; i++) poly = poly.mul(t).add(ERFC_FIT[i]);
        Tensor tail = t.mul(poly.sub(u.mul(u)).exp());           // erfc(|v|)
        Tensor erfc = Tensor.where(v.ge(Tensor.zeros(DType.F32, v.device())), tail, tail.neg().add(2.0));
        return erfc.mul(0.5);
    }
}
