package dev.moe4j.kernels.cpu.moe;

/**
 * Token-choice gating, the scalar reference: the executable specification that {@link Gating} is tested
 * against. It computes in {@code double} so that central finite differences on it are meaningful; the
 * {@code float} entry points widen the inputs, run the same code and round the outputs once.
 *
 * <h2>Shapes</h2>
 * <pre>
 *   logits   [T, E]   router logits, row-major
 *   bias     [E]      selection bias (may be null): added to the scores for choosing experts only
 *   scores   [T, E]   out: s = softmax(logits) per row, or sigmoid(logits) element-wise
 *   weights  [T, k]   out: gate weights, slot j of token t at t * k + j
 *   ids      [T, k]   out: expert ids, slots ordered by falling selection score (ties: lower id first)
 *   counts   [E]      out: number of tokens that chose each expert (sum = T * k)
 * </pre>
 *
 * <h2>Forward, per token t</h2>
 * <ol>
 *   <li>Scores {@code s[e]} from the logits by the {@link ScoreFunction}.</li>
 *   <li>Selection scores {@code c[e] = s[e] + bias[e]} (just {@code s[e]} without bias): the
 *       auxiliary-loss-free balancing bias steers the choice but never enters the weights.</li>
 *   <li>Group limit ({@code nGroup > 1}): group g holds experts {@code [g * E/nGroup, (g+1) * E/nGroup)};
 *       its score is the {@link GroupScore} of its members' {@code c}; the best {@code topkGroup} groups
 *       (ties: lower group id) stay, every expert of another group gets {@code c[e] = maskedScore}.</li>
 *   <li>Top-k: repeat k times, take the not yet taken expert ranking first, where a ranks before b when
 *       {@code c[a] > c[b]}, or {@code c[a] == c[b]} and {@code a < b}; a NaN ranks above every number
 *       (as in {@code torch.topk}).</li>
 *   <li>Weights from the unbiased scores: {@code p[j] = s[ids[j]]}; with renormalisation
 *       {@code w[j] = p[j] / (sum_i p[i] + eps)}, else {@code w[j] = p[j]}; finally {@code w[j] *= scale}.</li>
 * </ol>
 *
 * <h2>Backward, per token t</h2>
 * Selection is piecewise constant, so only the path logits -> scores -> weights carries gradient; the bias
 * gets none. With {@code c = scale}, {@code D = sum_i p[i] + eps} and upstream {@code dw[j]}:
 * <pre>
 *   dp[j] = c * (dw[j] / D - (sum_i dw[i] * p[i]) / D^2)      renormalised
 *   dp[j] = c * dw[j]                                          otherwise
 *   ds[e] = dp[j] where e = ids[j], 0 for unselected experts
 *   softmax: dl[e] = s[e] * (ds[e] - sum_f ds[f] * s[f])
 *   sigmoid: dl[e] = ds[e] * s[e] * (1 - s[e])
 * </pre>
 */
public final class GatingReference {
    private GatingReference() {}

    // ---------------------------------------------------------------------------------------------
    // double: the specification
    // ---------------------------------------------------------------------------------------------

    /**
     * Forward gating in double (see the class comment).
     *
     * @param logits  [T, E]
     * @param bias    [E] selection bias, or null for none
     * @param scores  [T, E] out
     * @param weights [T, k] out
     * @param ids     [T, k] out
     * @param counts  [E] out
     * @throws IllegalArgumentException for an invalid configuration, short arrays, a non-finite bias, or a
     *         NaN logit when {@link GatingConfig#rejectNaN()} is set
     */
    public static void forward(GatingConfig config, double[] logits, int numTokens, int numExperts, double[] bias,
                               double[] scores, double[] weights, int[] ids, int[] counts) {
        GatingChecks.forward(config, numTokens, numExperts, logits.length, bias == null ? -1 : bias.length,
                scores.length, weights.length, ids.length, counts.length);
        if (bias != null) {
            for (int e = 0; e < numExperts; e++) GatingChecks.finiteBias(bias[e], e);
        }
        if (config.rejectNaN()) {
            for (int i = 0; i < numTokens * numExperts; i++) {
                if (Double.isNaN(logits[i])) throw GatingChecks.nanLogit(i / numExperts, i % numExperts);
            }
        }
        int E = numExperts, k = config.k();
        double[] choice = new double[E];
        boolean[] taken = new boolean[E];
        java.util.Arrays.fill(counts, 0, E, 0);
        for (int t = 0; t < numTokens; t++) {
            int row = t * E;
            // 1. scores
            if (config.scoreFunction() == ScoreFunction.SOFTMAX) {
                double max = Double.NEGATIVE_INFINITY;
                for (int e = 0; e < E; e++) max = Math.max(max, logits[row + e]);
                double sum = 0;
                for (int e = 0; e < E; e++) {
                    scores[row + e] = Math.exp(logits[row + e] - max);
                    sum += scores[row + e];
                }
                for (int e = 0; e < E; e++) scores[row + e] /= sum;
            } else {
                for (int e = 0; e < E; e++) scores[row + e] = 1.0 / (1.0 + Math.exp(-logits[row + e]));
            }
            // 2. selection scores
            for (int e = 0; e < E; e++) choice[e] = scores[row + e] + (bias == null ? 0.0 : bias[e]);
            // 3. group limit
            if (config.groupLimited()) maskGroups(config, choice, E);
            // 4. top-k by repeated arg-max
            java.util.Arrays.fill(taken, false);
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int e = 0; e < E; e++) {
                    if (!taken[e] && (best < 0 || ranksBefore(choice[e], e, choice[best], best))) best = e;
                }
                taken[best] = true;
                ids[t * k + j] = best;
                counts[best]++;
            }
            // 5. weights from the unbiased scores
            double denominator = config.renormEps();
            for (int j = 0; j < k; j++) denominator += scores[row + ids[t * k + j]];
            for (int j = 0; j < k; j++) {
                double p = scores[row + ids[t * k + j]];
                weights[t * k + j] = (config.renormalize() ? p / denominator : p) * config.scale();
            }
        }
    }

    /** Step 3: rank the groups of {@code choice} and overwrite the experts of the dropped groups. */
    private static void maskGroups(GatingConfig config, double[] choice, int E) {
        int nGroup = config.nGroup(), size = E / nGroup;
        double[] groupScore = new double[nGroup];
        for (int g = 0; g < nGroup; g++) {
            int first = -1, second = -1;                  // the two best members of group g
            for (int e = g * size; e < (g + 1) * size; e++) {
                if (first < 0 || ranksBefore(choice[e], e, choice[first], first)) {
                    second = first;
                    first = e;
                } else if (second < 0 || ranksBefore(choice[e], e, choice[second], second)) {
                    second = e;
                }
            }
            groupScore[g] = config.groupScore() == GroupScore.MAX ? choice[first] : choice[first] + choice[second];
        }
        boolean[] kept = new boolean[nGroup];
        for (int i = 0; i < config.topkGroup(); i++) {
            int best = -1;
            for (int g = 0; g < nGroup; g++) {
                if (!kept[g] && (best < 0 || ranksBefore(groupScore[g], g, groupScore[best], best))) best = g;
            }
            kept[best] = true;
        }
        for (int e = 0; e < E; e++) {
            if (!kept[e / size]) choice[e] = config.maskedScore();
        }
    }

    /**
     * The order of top-k: a ranks before b when its value is larger, or equal with a lower index; NaN ranks
     * above every number, two NaNs by index. -0.0 and 0.0 are equal.
     */
    static boolean ranksBefore(double a, int ia, double b, int ib) {
        boolean aNaN = a != a, bNaN = b != b;
        if (aNaN || bNaN) return aNaN && (!bNaN || ia < ib);
        return a > b || (a == b && ia < ib);
    }

    /**
     * Backward gating in double: the gradient w.r.t. the logits for upstream gradients of the gate weights.
     *
     * @param scores   [T, E] the scores of the forward pass
     * @param ids      [T, k] the expert ids of the forward pass
     * @param dWeights [T, k] upstream gradient
     * @param dLogits  [T, E] out (overwritten)
     * @throws IllegalArgumentException for short arrays; IndexOutOfBoundsException for an id outside [0, E)
     */
    public static void backward(GatingConfig config, double[] scores, int numTokens, int numExperts, int[] ids,
                                double[] dWeights, double[] dLogits) {
        GatingChecks.backward(config, numTokens, numExperts, scores.length, ids, dWeights.length, dLogits.length);
        int E = numExperts, k = config.k();
        double c = config.scale();
        double[] ds = new double[E];
        for (int t = 0; t < numTokens; t++) {
            int row = t * E;
            java.util.Arrays.fill(ds, 0.0);
            if (config.renormalize()) {
                double denominator = config.renormEps(), dot = 0;
                for (int j = 0; j < k; j++) {
                    double p = scores[row + ids[t * k + j]];
                    denominator += p;
                    dot += dWeights[t * k + j] * p;
                }
                for (int j = 0; j < k; j++) {
                    ds[ids[t * k + j]] += c * (dWeights[t * k + j] / denominator - dot / (denominator * denominator));
                }
            } else {
                for (int j = 0; j < k; j++) ds[ids[t * k + j]] += c * dWeights[t * k + j];
            }
            if (config.scoreFunction() == ScoreFunction.SOFTMAX) {
                double dot = 0;
                for (int e = 0; e < E; e++) dot += ds[e] * scores[row + e];
                for (int e = 0; e < E; e++) dLogits[row + e] = scores[row + e] * (ds[e] - dot);
            } else {
                for (int e = 0; e < E; e++) {
                    double s = scores[row + e];
                    dLogits[row + e] = ds[e] * s * (1 - s);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // float entry points: widen, run the double specification, round once
    // ---------------------------------------------------------------------------------------------

    /**
     * Forward gating on float arrays, computed in double and rounded once (shapes as in
     * {@link #forward(GatingConfig, double[], int, int, double[], double[], double[], int[], int[])});
     * {@code scores} may be null when not needed.
     */
    public static void forward(GatingConfig config, float[] logits, int numTokens, int numExperts, float[] bias,
                               float[] scores, float[] weights, int[] ids, int[] counts) {
        GatingChecks.forward(config, numTokens, numExperts, logits.length, bias == null ? -1 : bias.length,
                scores == null ? numTokens * numExperts : scores.length, weights.length, ids.length, counts.length);
        int n = numTokens * numExperts, nk = numTokens * config.k();
        double[] s = new double[n];
        double[] w = new double[nk];
        forward(config, widen(logits, n), numTokens, numExperts, bias == null ? null : widen(bias, numExperts), s, w, ids, counts);
        if (scores != null) narrow(s, scores, n);
        narrow(w, weights, nk);
    }

    /**
     * Backward gating on float arrays, computed in double and rounded once (shapes as in
     * {@link #backward(GatingConfig, double[], int, int, int[], double[], double[])}).
     */
    public static void backward(GatingConfig config, float[] scores, int numTokens, int numExperts, int[] ids,
                                float[] dWeights, float[] dLogits) {
        GatingChecks.backward(config, numTokens, numExperts, scores.length, ids, dWeights.length, dLogits.length);
        int n = numTokens * numExperts;
        double[] dl = new double[n];
        backward(config, widen(scores, n), numTokens, numExperts, ids, widen(dWeights, numTokens * config.k()), dl);
        narrow(dl, dLogits, n);
    }

    private static double[] widen(float[] a, int n) {
        double[] r = new double[n];
        for (int i = 0; i < n; i++) r[i] = a[i];
        return r;
    }

    private static void narrow(double[] a, float[] out, int n) {
        for (int i = 0; i < n; i++) out[i] = (float) a[i];
    }
}
