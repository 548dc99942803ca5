package dev.moe4j.kernels.cpu.moe;

import java.util.Arrays;

/**
 * Token-choice gating, the fast float version: router logits [T, E] to k gate weights and k expert ids per
 * token, and the gradient back to the logits. The algorithm, shapes and tie rule are specified by
 * {@link GatingReference}; this class computes the same thing in float with:
 * <ul>
 *   <li>Vector API rows for the scores (max, shifted exponentials and their sum for softmax; sigmoid
 *       lane-wise), the bias add and, in backward, the softmax Jacobian product;</li>
 *   <li>one pass of insertion into a sorted k-buffer for top-k (and for the top groups), instead of k
 *       arg-max passes;</li>
 *   <li>tokens split into chunks over the fork-join pool when T * E is large; each token is computed by one
 *       thread in a fixed order, so results do not depend on the split.</li>
 * </ul>
 * Float rounding can order two scores that are equal in double (or nearly so) differently from the
 * reference; otherwise expert choices are identical and weights agree to float precision.
 *
 * <p>Papers: Mixtral of Experts; Qwen2 MoE; DeepSeek-V3 (sigmoid, group-limited top-k, routed scaling);
 * Auxiliary-Loss-Free Load Balancing Strategy for Mixture-of-Experts (the selection bias).
 */
public final class Gating {
    private Gating() {}

    /**
     * Forward gating (see {@link GatingReference} for the algorithm).
     *
     * @param logits  [T, E] router logits
     * @param bias    [E] selection bias added to the scores for choosing only, or null
     * @param scores  [T, E] out: the scores (softmax or sigmoid), kept for backward; may be null
     * @param weights [T, k] out: gate weights (unbiased scores, renormalised if configured, times scale)
     * @param ids     [T, k] out: expert ids, ordered by falling selection score, ties to the lower id
     * @param counts  [E] out: tokens per expert
     * @throws IllegalArgumentException for an invalid configuration, short arrays, a non-finite bias, or a
     *         NaN logit (naming its token and expert) when {@link GatingConfig#rejectNaN()} is set
     */
    public static void forward(GatingConfig config, float[] logits, int numTokens, int numExperts, float[] bias,
                               float[] scores, float[] weights, int[] ids, int[] counts) {
        GatingChecks.forward(config, numTokens, numExperts, logits.length, bias == null ? -1 : bias.length,
                scores == null ? numTokens * numExperts : scores.length, weights.length, ids.length, counts.length);
        if (bias != null) {
            for (int e = 0; e < numExperts; e++) GatingChecks.finiteBias(bias[e], e);
        }
        if (config.rejectNaN()) {
            for (int i = 0, n = numTokens * numExperts; i < n; i++) {
                if (Float.isNaN(logits[i])) throw GatingChecks.nanLogit(i / numExperts, i % numExperts);
            }
        }
        int E = numExperts, k = config.k();
        ParallelRange.forEach(numTokens, 4L * E, (start, end) -> {
            float[] rowScores = scores == null ? new float[E] : null;
            float[] choice = new float[E];
            float[] topValues = new float[Math.max(k, config.topkGroup())];
            int[] topGroups = config.groupLimited() ? new int[config.topkGroup()] : null;
            float[] groupScores = config.groupLimited() ? new float[config.nGroup()] : null;
            boolean[] keptGroup = config.groupLimited() ? new boolean[config.nGroup()] : null;
            for (int t = start; t < end; t++) {
                float[] s = scores == null ? rowScores : scores;
                int sOff = scores == null ? 0 : t * E;
                if (config.scoreFunction() == ScoreFunction.SOFTMAX) VectorRows.softmax(logits, t * E, s, sOff, E);
                else VectorRows.sigmoid(logits, t * E, s, sOff, E);

                System.arraycopy(s, sOff, choice, 0, E);
                if (bias != null) VectorRows.add(bias, 0, choice, 0, E);
                if (config.groupLimited()) maskGroups(config, choice, E, groupScores, topGroups, topValues, keptGroup);
                topK(choice, E, k, ids, t * k, topValues);

                float denominator = config.renormEps();
                for (int j = 0; j < k; j++) denominator += s[sOff + ids[t * k + j]];
                for (int j = 0; j < k; j++) {
                    float p = s[sOff + ids[t * k + j]];
                    weights[t * k + j] = (config.renormalize() ? p / denominator : p) * config.scale();
                }
            }
        });
        Arrays.fill(counts, 0, E, 0);
        for (int i = 0, n = numTokens * k; i < n; i++) counts[ids[i]]++;
    }

    /**
     * Group limit: rank the {@code nGroup} groups of {@code choice} by their {@link GroupScore}, keep the best
     * {@code topkGroup} (ties: lower group id), and give every expert of the other groups {@code maskedScore}.
     */
    private static void maskGroups(GatingConfig config, float[] choice, int E, float[] groupScores, int[] topGroups,
                                   float[] topValues, boolean[] keptGroup) {
        int nGroup = config.nGroup(), size = E / nGroup;
        for (int g = 0; g < nGroup; g++) {
            int first = -1, second = -1;
            for (int e = g * size; e < (g + 1) * size; e++) {
                if (first < 0 || GatingReference.ranksBefore(choice[e], e, choice[first], first)) {
                    second = first;
                    first = e;
                } else if (second < 0 || GatingReference.ranksBefore(choice[e], e, choice[second], second)) {
                    second = e;
                }
            }
            groupScores[g] = config.groupScore() == GroupScore.MAX ? choice[first] : choice[first] + choice[second];
        }
        topK(groupScores, nGroup, config.topkGroup(), topGroups, 0, topValues);
        Arrays.fill(keptGroup, false);
        for (int g : topGroups) keptGroup[g] = true;
        for (int g = 0; g < nGroup; g++) {
            if (!keptGroup[g]) Arrays.fill(choice, g * size, (g + 1) * size, config.maskedScore());
        }
    }

    /**
     * One-pass top-k: walks {@code v[0..n)} keeping the k best seen so far sorted in
     * {@code outIds[outOff..outOff+k)} (values in {@code topValues[0..k)}); a newcomer is inserted by shifting
     * the worse entries one place down. The order is {@link GatingReference#ranksBefore}.
     */
    static void topK(float[] v, int n, int k, int[] outIds, int outOff, float[] topValues) {
        int filled = 0;
        for (int e = 0; e < n; e++) {
            float x = v[e];
            if (filled == k && !GatingReference.ranksBefore(x, e, topValues[k - 1], outIds[outOff + k - 1])) continue;
            int pos = filled < k ? filled++ : k - 1;
            while (pos > 0 && GatingReference.ranksBefore(x, e, topValues[pos - 1], outIds[outOff + pos - 1])) {
                topValues[pos] = topValues[pos - 1];
                outIds[outOff + pos] = outIds[outOff + pos - 1];
                pos--;
            }
            topValues[pos] = x;
            outIds[outOff + pos] = e;
        }
    }

    /**
     * Recomputes the scores [T, E] from the logits [T, E] (softmax per row or sigmoid), for a backward pass
     * whose forward did not keep them.
     *
     * @throws IllegalArgumentException for negative sizes or short arrays
     */
    public static void scores(ScoreFunction function, float[] logits, int numTokens, int numExperts, float[] scores) {
        if (numTokens < 0 || numExperts < 1) {
            throw new IllegalArgumentException("need T >= 0 and E >= 1, got T = " + numTokens + ", E = " + numExperts);
        }
        long te = (long) numTokens * numExperts;
        String shape = "[T, E] = [" + numTokens + ", " + numExperts + "]";
        GatingChecks.require("logits", logits.length, te, shape);
        GatingChecks.require("scores", scores.length, te, shape);
        ParallelRange.forEach(numTokens, 4L * numExperts, (start, end) -> {
            for (int t = start; t < end; t++) {
                if (function == ScoreFunction.SOFTMAX) VectorRows.softmax(logits, t * numExperts, scores, t * numExperts, numExperts);
                else VectorRows.sigmoid(logits, t * numExperts, scores, t * numExperts, numExperts);
            }
        });
    }

    /**
     * Backward gating: {@code dLogits} [T, E] from the upstream gradient of the gate weights (formulas in
     * {@link GatingReference}). Softmax rows are written as {@code -dot * s} by a vector loop, then the k
     * selected entries get their {@code s[e] * ds[e]}; sigmoid rows are zero except at the k selected experts.
     *
     * @param scores   [T, E] scores of the forward pass
     * @param ids      [T, k] expert ids of the forward pass
     * @param dWeights [T, k] upstream gradient
     * @param dLogits  [T, E] out (overwritten)
     * @throws IllegalArgumentException for short arrays; IndexOutOfBoundsException for an id outside [0, E)
     */
    public static void backward(GatingConfig config, float[] scores, int numTokens, int numExperts, int[] ids,
                                float[] dWeights, float[] dLogits) {
        GatingChecks.backward(config, numTokens, numExperts, scores.length, ids, dWeights.length, dLogits.length);
        int E = numExperts, k = config.k();
        float c = config.scale();
        ParallelRange.forEach(numTokens, 2L * E, (start, end) -> {
            float[] ds = new float[k];
            for (int t = start; t < end; t++) {
                int row = t * E, pk = t * k;
                if (config.renormalize()) {
                    float denominator = config.renormEps(), dot = 0;
                    for (int j = 0; j < k; j++) {
                        float p = scores[row + ids[pk + j]];
                        denominator += p;
                        dot += dWeights[pk + j] * p;
                    }
                    float dotOverD2 = dot / (denominator * denominator);
                    for (int j = 0; j < k; j++) ds[j] = c * (dWeights[pk + j] / denominator - dotOverD2);
                } else {
                    for (int j = 0; j < k; j++) ds[j] = c * dWeights[pk + j];
                }
                if (config.scoreFunction() == ScoreFunction.SOFTMAX) {
                    float dot = 0;
                    for (int j = 0; j < k; j++) dot += ds[j] * scores[row + ids[pk + j]];
                    VectorRows.scale(-dot, scores, row, dLogits, row, E);
                    for (int j = 0; j < k; j++) {
                        int e = ids[pk + j];
                        dLogits[row + e] += scores[row + e] * ds[j];
                    }
                } else {
                    Arrays.fill(dLogits, row, row + E, 0f);
                    for (int j = 0; j < k; j++) {
                        int e = ids[pk + j];
                        float s = scores[row + e];
                        dLogits[row + e] += ds[j] * s * (1 - s);
                    }
                }
            }
        });
    }
}
