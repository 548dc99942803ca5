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
 */
public final class SequenceBalanceLoss extends Function {
    private final int[] expertIds;
    private final int k;
    private double[] f;   // [B, E]

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
        TensorArrays.requireCompute("sequence balance loss", "scores", scores);
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

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        Tensor scores = ctx.saved(0);
        int E = scores.size(-1), S = scores.size(-2), B = scores.numel() / (S * E);
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
