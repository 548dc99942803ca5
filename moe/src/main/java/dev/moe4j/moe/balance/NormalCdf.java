package dev.moe4j.moe.balance;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.kernels.cpu.Erf;
import dev.moe4j.moe.ops.TensorArrays;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

/**
 * The standard normal cumulative distribution function, element-wise, as a differentiable function:
 * {@code Phi(z) = (1 + erf(z / sqrt 2)) / 2 = erfc(-z / sqrt 2) / 2} (the erfc form keeps precision
 * in the lower tail). Derivative: the density {@code phi(z) = exp(-z^2 / 2) / sqrt(2 pi)}.
 * F32 or F64; computed in double.
 */
public final class NormalCdf extends Function {
    private static final double INV_SQRT_2 = 1 / Math.sqrt(2);
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

    /** Creates the function (one instance per call). */
    public NormalCdf() {}

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor z = in[0];
        TensorArrays.requireCompute("normal cdf", "z", z);
        ctx.save(z);
        double[] v = z.toDoubleArray(), out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = 0.5 * Erf.erfc(-v[i] * INV_SQRT_2);
        return TensorArrays.wrap(out, z.shape()).to(z.dtype());
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        Tensor z = ctx.saved(0);
        double[] v = z.toDoubleArray(), dg = g.toDoubleArray(), dz = new double[v.length];
        for (int i = 0; i < v.length; i++) dz[i] = dg[i] * INV_SQRT_2PI * Math.exp(-0.5 * v[i] * v[i]);
        DType t = ctx.inputDType(0);
        return new Tensor[] {TensorArrays.wrap(dz, z.shape()).to(t)};
    }
}
