package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The complementary sequence-wise auxiliary loss of DeepSeek-V3 (section 2.1.2), before its factor
 * alpha. Per sequence of S tokens with affinity scores s [S, E] (sigmoid of the router logits) and
 * the top-k experts of each token:
 * <pre>
 *   s'[t, i] = s[t, i] / sum_j s[t, j]                    scores normalised per token
 *   P_i      = (1/S) sum_t s'[t, i]
 *   f_i      = E / (k S) * sum_t [i is among the top-k experts of token t]   (id -1: unused slot)
 *   loss     = sum_i f_i P_i            (averaged over the B sequences of the batch)
 * </pre>
 * A perfectly balanced sequence gives 1. The ids are constants; the gradient flows into the scores:
 * {@code dL/ds[t, j] = (f_j - sum_i f_i s'[t, i]) / (B S Z_t)} with {@code Z_t = sum_i s[t, i]}.
 *
 * <p>On a CUDA device f (constants, from the host ids) is uploaded and the rest runs as generic tensor
 * ops on the device, in F32.
 */
public final class SequenceBalanceLoss extends Function {
    private final int[] expertIds;
    private final int k;
    private double[] f;   // [B, E]

    /** f [B * E] of the last forward (the array itself). */
    double[] fractions() { return f; }

    /**
     * @param expertIds [B * S * k] the experts chosen per token, in the token order of the scores
     * @param k         experts per token
     */
    public SequenceBalanceLoss(int[] expertIds, int k) {
        if (k < 1) throw new IllegalArgumentException("sequence balance loss: k must be >= 1, got " + k);
        this.expertIds = expertIds.clone();
        this.k = k;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor scores = in[0];
        DeviceOps.requireCompute("sequence balance loss", "scores", scores);
        if (scores.rank() < 2 || scores.numel() == 0) {
            throw new IllegalArgumentException("sequence balance loss: scores must be [..., S, E] with tokens, got " + Shape.str(scores.shape()));
        }
        int E = scores.size(-1), S = scores.size(-2), B = scores.numel() / (S * E);
        if (expertIds.length != (long) B * S * k) {
            throw new IllegalArgumentException("sequence balance loss: " + expertIds.length + " expert ids for scores " + Shape.str(scores.shape())
                    + " and k = " + k + " (need B * S * k = " + (long) B * S * k + ")");
        }
        ctx.save(scores);
        f = new double[B * E];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < S; t++) {
                int p = (b * S + t) * k;
                for (int j = 0; j < k; j++) {
                    int e = expertIds[p + j];
                    if (e < 0) continue;                  // no expert in this slot
                    if (e >= E) throw new IndexOutOfBoundsException("sequence balance loss: expert id " + e + " of token " + (b * S + t) + " outside [0, " + E + ")");
                    f[b * E + e] += (double) E / ((double) k * S);
                }
            }
        }
        if (DeviceOps.onCuda(scores)) return composedLoss(scores, f, B, S, E);
        double[] s = scores.toDoubleArray();
        double loss = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < S; t++) {
                int row = (b * S + t) * E;
                double z = 0;
                for (int e = 0; e < E; e++) z += s[row + e];
                for (int e = 0; e < E; e++) loss += f[b * E + e] * s[row + e] / z / S;
            }
        }
        return Tensor.scalar(scores.dtype(), loss / B);
    }

    /** The loss from generic tensor ops on the scores' device, in F32: {@code sum f * s / Z / (B S)}. */
    static Tensor composedLoss(Tensor scores, double[] f, int B, int S, int E) {
        Tensor fb = TensorArrays.wrap(f, B, 1, E).to(DType.F32).to(scores.device());
        Tensor s = scores.to(DType.F32).reshape(B, S, E);
        Tensor normalised = s.div(s.sum(2, true));                                     // s' [B, S, E]
        return normalised.mul(fb).sum().mul(1.0 / ((double) B * S)).to(scores.dtype());
    }

    /** dscores from generic tensor ops on the scores' device: {@code g (f_j - sum_i f_i s'_i) / (B S Z)}. */
    static Tensor composedGrad(Tensor scores, Tensor g, double[] f, int B, int S, int E) {
        Tensor fb = TensorArrays.wrap(f, B, 1, E).to(DType.F32).to(scores.device());
        Tensor s = scores.to(DType.F32).reshape(B, S, E);
        Tensor z = s.sum(2, true);                                                      // Z [B, S, 1]
        Tensor fs = s.div(z).mul(fb).sum(2, true);                                      // sum_i f_i s'[t, i]
        Tensor d = fb.sub(fs).div(z).mul(g.to(DType.F32)).mul(1.0 / ((double) B * S));
        return d.reshape(scores.shape()).to(scores.dtype());
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        Tensor scores = ctx.saved(0);
        int E = scores.size(-1), S = scores.size(-2), B = scores.numel() / (S * E);
        if (DeviceOps.onCuda(g)) return new Tensor[] {composedGrad(scores, g, f, B, S, E)};
        double[] s = scores.toDoubleArray(), d = new double[s.length];
        double go = g.item();
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < S; t++) {
                int row = (b * S + t) * E;
                double z = 0, fs = 0;
                for (int e = 0; e < E; e++) z += s[row + e];
                for (int e = 0; e < E; e++) fs += f[b * E + e] * s[row + e] / z;
                for (int e = 0; e < E; e++) d[row + e] = go * (f[b * E + e] - fs) / ((double) B * S * z);
            }
        }
        Tensor out = TensorArrays.wrap(d, scores.shape());
        return new Tensor[] {scores.dtype() == DType.F64 ? out : out.to(scores.dtype())};
    }
}
