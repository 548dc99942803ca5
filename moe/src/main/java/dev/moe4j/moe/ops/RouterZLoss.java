package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The router z-loss of ST-MoE (Zoph et al., "Designing Stable and Transferable Sparse Expert
 * Models"), as Hugging Face {@code router_z_loss_func}: it penalises large router logits.
 * <pre>
 *   logits [..., E], N rows:   loss = (1/N) sum_rows logsumexp(row)^2
 *   d loss / d logits[row, e] = (2/N) * logsumexp(row) * softmax(row)[e]
 * </pre>
 * Computed in double (max subtracted inside the log-sum-exp); on a CUDA device with generic tensor
 * ops ({@code logsumexp}, {@code softmax}) in F32.
 */
public final class RouterZLoss extends Function {
    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor logits = in[0];
        DeviceOps.requireCompute("router z-loss", "logits", logits);
        if (logits.rank() < 1 || logits.size(-1) < 1 || logits.numel() == 0) {
            throw new IllegalArgumentException("router z-loss: logits must be [..., E] with E >= 1 and at least one row, got " + Shape.str(logits.shape()));
        }
        ctx.save(logits);
        int E = logits.size(-1), N = logits.numel() / E;
        if (DeviceOps.onCuda(logits)) return composedLoss(logits, N, E);
        double[] l = logits.toDoubleArray();
        double sum = 0;
        for (int r = 0; r < N; r++) {
            double lse = logSumExp(l, r * E, E);
            sum += lse * lse;
        }
        return Tensor.scalar(logits.dtype(), sum / N);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        Tensor logits = ctx.saved(0);
        int E = logits.size(-1), N = logits.numel() / E;
        if (DeviceOps.onCuda(g)) return new Tensor[] {composedGrad(logits, g, N, E)};
        double[] l = logits.toDoubleArray(), d = new double[l.length];
        double scale = 2 * g.item() / N;
        for (int r = 0; r < N; r++) {
            double lse = logSumExp(l, r * E, E);
            for (int e = 0; e < E; e++) d[r * E + e] = scale * lse * Math.exp(l[r * E + e] - lse);
        }
        Tensor out = TensorArrays.wrap(d, logits.shape());
        return new Tensor[] {logits.dtype() == DType.F64 ? out : out.to(logits.dtype())};
    }

    /** The loss from generic tensor ops on the logits' device, in F32: {@code mean of logsumexp^2}. */
    static Tensor composedLoss(Tensor logits, int N, int E) {
        Tensor lse = logits.to(DType.F32).reshape(N, E).logsumexp(1, false);
        return lse.mul(lse).sum().mul(1.0 / N).to(logits.dtype());
    }

    /** dlogits from generic tensor ops on the logits' device: {@code g (2/N) lse softmax}. */
    static Tensor composedGrad(Tensor logits, Tensor g, int N, int E) {
        Tensor l = logits.to(DType.F32).reshape(N, E);
        Tensor lse = l.logsumexp(1, true);                                               // [N, 1]
        Tensor d = l.softmax(1).mul(lse).mul(g.to(DType.F32)).mul(2.0 / N);
        return d.reshape(logits.shape()).to(logits.dtype());
    }

    static double logSumExp(double[] a, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, a[off + i]);
        if (Double.isInfinite(max)) return max;
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.exp(a[off + i] - max);
        return max + Math.log(s);
    }
}
