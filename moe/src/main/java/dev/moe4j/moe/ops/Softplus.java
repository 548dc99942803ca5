package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

/**
 * {@code softplus(x) = log(1 + e^x)}, element-wise, computed as {@code max(x, 0) + log1p(e^-|x|)}
 * (no overflow); derivative {@code sigmoid(x)}. The noise scale of noisy top-k gating.
 *
 * <p>On a CUDA device it is composed of generic tensor ops in the input's dtype,
 * {@code relu(x) + log(1 + exp(-|x|))}; without a log1p, softplus(x) of x below about -17 (F32)
 * comes out as 0 instead of about e^x.
 */
public final class Softplus extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0];
        DeviceOps.requireCompute("softplus", "x", x);
        ctx.save(x);
        if (DeviceOps.onCuda(x)) return x.relu().add(x.abs().neg().exp().add(1.0).log());
        double[] a = x.toDoubleArray();
        for (int i = 0; i < a.length; i++) a[i] = Math.max(a[i], 0) + Math.log1p(Math.exp(-Math.abs(a[i])));
        Tensor out = TensorArrays.wrap(a, x.shape());
        return x.dtype() == DType.F64 ? out : out.to(x.dtype());
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        Tensor x = ctx.saved(0);
        if (DeviceOps.onCuda(x)) return new Tensor[] {g.to(x.dtype()).mul(x.sigmoid())};
        double[] a = x.toDoubleArray(), d = g.toDoubleArray();
        for (int i = 0; i < a.length; i++) d[i] *= 1 / (1 + Math.exp(-a[i]));
        Tensor out = TensorArrays.wrap(d, x.shape());
        return new Tensor[] {x.dtype() == DType.F64 ? out : out.to(x.dtype())};
    }
}
