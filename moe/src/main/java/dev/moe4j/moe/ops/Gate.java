package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.kernels.cpu.moe.Gating;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cpu.moe.GatingReference;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaMoe;

/**
 * Token-choice gating as a differentiable function: router logits [T, E] &rarr; gate weights [T, k],
 * with the chosen expert ids [T, k] and the scores [T, E] kept on this object after {@link #apply}.
 *
 * <p>Per token: scores s = softmax(logits) or sigmoid(logits); selection on s + bias (the optional
 * auxiliary-loss-free selection bias), optionally limited to the best groups of experts; top-k with
 * ties to the lower expert id; weights from the unbiased scores, optionally renormalised, times a
 * scale (all set by a {@link GatingConfig}; the algorithm is specified by {@link GatingReference}).
 *
 * <p>Derivative: selection is piecewise constant, so the gradient flows only through
 * logits &rarr; scores &rarr; weights. With D = sum_j p_j + eps, p_j = s[ids_j], c = scale:
 * <pre>
 *   dp_j = c (dw_j / D - sum_i dw_i p_i / D^2)     (renormalised; else dp_j = c dw_j)
 *   softmax: dl_e = s_e (ds_e - sum_f ds_f s_f)     sigmoid: dl_e = ds_e s_e (1 - s_e)
 * </pre>
 * F32 runs the fast kernel {@link Gating}; F64 the double reference {@link GatingReference} (for
 * gradient checks). One instance serves one call.
 *
 * <p>On a CUDA device the gating kernel {@link CudaMoe#gating} runs on the logits as F32 (BF16 logits
 * are cast; their gradient comes back as BF16): weights [T, k] F32, ids [T, k] I32 and the scores stay
 * on the device ({@link #deviceIds()}); {@link #ids()} and {@link #counts()} download them when asked.
 */
public final class Gate extends Function {
    private final GatingConfig config;
    private final double[] bias;
    private int numTokens = -1, numExperts;
    private int[] ids;
    private int[] counts;
    private Tensor scores;
    private Tensor deviceIds, deviceCounts;     // [T, k] I32 and [E] I32 on a CUDA device, after a device forward

    /**
     * @param config        how to score, select and weight
     * @param selectionBias [E] added to the scores for the choice only, or null
     */
    public Gate(GatingConfig config, double[] selectionBias) {
        if (config == null) throw new IllegalArgumentException("gating config is null");
        this.config = config;
        this.bias = selectionBias == null ? null : selectionBias.clone();
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor logits = in[0];
        DeviceOps.requireCompute("gate", "logits", logits);
        if (logits.rank() != 2) throw new IllegalArgumentException("gate: logits must be [T, E], got " + Shape.str(logits.shape()));
        int T = logits.size(0), E = logits.size(1), k = config.k();
        config.validate(E);
        if (bias != null && bias.length != E) {
            throw new IllegalArgumentException("gate: selection bias has " + bias.length + " elements, logits have E = " + E + " experts");
        }
        numTokens = T;
        numExperts = E;
        if (DeviceOps.onCuda(logits)) {
            Tensor b = null;
            if (bias != null) {
                float[] f = new float[E];
                for (int e = 0; e < E; e++) f[e] = (float) bias[e];
                b = TensorArrays.wrap(f, E).to(logits.device());
            }
            CudaMoe.Gate out = CudaMoe.gating(config, logits.to(DType.F32), b, true);
            deviceIds = out.ids();
            deviceCounts = out.counts();
            scores = out.scores();
            ids = null;
            counts = null;
            return out.weights();
        }
        ids = new int[T * k];
        counts = new int[E];
        if (logits.dtype() == DType.F32) {
            float[] s = new float[T * E], w = new float[T * k];
            float[] b = null;
            if (bias != null) {
                b = new float[E];
                for (int e = 0; e < E; e++) b[e] = (float) bias[e];
            }
            Gating.forward(config, TensorArrays.floats(logits), T, E, b, s, w, ids, counts);
            scores = TensorArrays.wrap(s, T, E);
            return TensorArrays.wrap(w, T, k);
        }
        double[] s = new double[T * E], w = new double[T * k];
        GatingReference.forward(config, TensorArrays.doubles(logits), T, E, bias, s, w, ids, counts);
        scores = TensorArrays.wrap(s, T, E);
        return TensorArrays.wrap(w, T, k);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        int T = numTokens, E = numExperts;
        if (deviceIds != null) return new Tensor[] {CudaMoe.gatingBackward(config, scores, deviceIds, g.to(DType.F32))};
        if (scores.dtype() == DType.F32) {
            float[] dl = new float[T * E];
            Gating.backward(config, TensorArrays.floats(scores), T, E, ids, TensorArrays.floats(g.to(DType.F32)), dl);
            return new Tensor[] {TensorArrays.wrap(dl, T, E)};
        }
        double[] dl = new double[T * E];
        GatingReference.backward(config, TensorArrays.doubles(scores), T, E, ids, TensorArrays.doubles(g.to(DType.F64)), dl);
        return new Tensor[] {TensorArrays.wrap(dl, T, E)};
    }

    /** The configuration. */
    public GatingConfig config() { return config; }

    /** [T * k] expert ids of the last call, slot j of token t at t * k + j (a copy; downloaded after a device call). */
    public int[] ids() {
        requireRun();
        if (ids == null) ids = deviceIds.cpu().toIntArray();
        return ids.clone();
    }

    /** [E] tokens per expert of the last call (a copy; downloaded after a device call). */
    public int[] counts() {
        requireRun();
        if (counts == null) counts = deviceCounts.cpu().toIntArray();
        return counts.clone();
    }

    /** [T, k] I32 expert ids on the CUDA device of the last call, or null after a CPU call. */
    public Tensor deviceIds() { requireRun(); return deviceIds; }

    /** [T, E] scores (softmax or sigmoid) of the last call, on the logits' device (F32 there); not part of the graph. */
    public Tensor scores() { requireRun(); return scores; }

    private void requireRun() {
        if (numTokens < 0) throw new IllegalStateException("gate has not run yet; call apply(logits) first");
    }
}
