package dev.moe4j.kernels.cpu.moe;

/**
 * Combine: the weighted sum of each token's expert outputs back in token order, and its backward.
 *
 * <h2>Shapes</h2>
 * <pre>
 *   weights   [T, k]   gate weights w[t, j]
 *   yPerm     [R, d]   expert outputs in expert-sorted rows (the plan's rows)
 *   y         [T, d]   y[t, :] = sum over the kept slots j of t, in slot order, of w[t, j] * yPerm[row(t, j), :]
 *   dy        [T, d]   gradient of y
 *   dyPerm    [R, d]   dyPerm[row(t, j), :] = w[t, j] * dy[t, :]
 *   dWeights  [T, k]   dWeights[t, j] = dot(dy[t, :], yPerm[row(t, j), :]); 0 for a dropped slot
 * </pre>
 * Dropped slots contribute nothing (a token with every slot dropped gets y = 0). Deterministic by
 * construction: every output row is owned by one thread, which sums its slots in order (no atomics).
 * Outputs must be arrays distinct from the inputs.
 *
 * <p>The fast versions use Vector API row loops (scale, multiply-then-add, dot) and split large problems
 * over tokens on the fork-join pool. {@code y} and {@code dyPerm} match the reference bit for bit (up to the
 * sign of a zero) since each element sees the same float operations in the same order; {@code dWeights}
 * differs by the summation order of the dot product only. The double references exist for gradient checks
 * by finite differences.
 */
public final class Combine {
    private Combine() {}

    // ---------------------------------------------------------------------------------------------
    // scalar reference, float
    // ---------------------------------------------------------------------------------------------

    /**
     * Reference combine: {@code y[t, c] = 0 + sum_j w[t, j] * yPerm[row(t, j), c]} over the kept slots in order.
     *
     * @param weights [T, k]
     * @param yPerm   [R, d]
     * @param y       [T, d] out (overwritten)
     * @throws IllegalArgumentException for a negative d or short arrays
     */
    public static void combineReference(RoutingPlan plan, float[] weights, float[] yPerm, int d, float[] y) {
        checkForward(plan, weights.length, yPerm.length, d, y.length);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        for (int t = 0; t < plan.numTokens(); t++) {
            for (int c = 0; c < d; c++) y[t * d + c] = 0f;
            for (int j = 0; j < k; j++) {
                int r = pairToRow[t * k + j];
                if (r < 0) continue;
                float w = weights[t * k + j];
                for (int c = 0; c < d; c++) y[t * d + c] += w * yPerm[r * d + c];
            }
        }
    }

    /**
     * Reference backward: {@code dyPerm[row(t, j), :] = w[t, j] * dy[t, :]} and
     * {@code dWeights[t, j] = sum_c dy[t, c] * yPerm[row(t, j), c]} (0 for a dropped slot).
     *
     * @param weights  [T, k]
     * @param yPerm    [R, d] the forward's expert outputs
     * @param dy       [T, d]
     * @param dyPerm   [R, d] out, or null when not needed
     * @param dWeights [T, k] out, or null when not needed
     * @throws IllegalArgumentException for a negative d or short arrays
     */
    public static void combineBackwardReference(RoutingPlan plan, float[] weights, float[] yPerm, float[] dy, int d,
                                                float[] dyPerm, float[] dWeights) {
        checkBackward(plan, weights.length, yPerm.length, dy.length, d, dyPerm == null ? -1 : dyPerm.length,
                dWeights == null ? -1 : dWeights.length);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        for (int t = 0; t < plan.numTokens(); t++) {
            for (int j = 0; j < k; j++) {
                int p = t * k + j, r = pairToRow[p];
                if (r < 0) {
                    if (dWeights != null) dWeights[p] = 0f;
                    continue;
                }
                if (dyPerm != null) {
                    for (int c = 0; c < d; c++) dyPerm[r * d + c] = weights[p] * dy[t * d + c];
                }
                if (dWeights != null) {
                    float dot = 0f;
                    for (int c = 0; c < d; c++) dot += dy[t * d + c] * yPerm[r * d + c];
                    dWeights[p] = dot;
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // scalar reference, double (for finite-difference checks)
    // ---------------------------------------------------------------------------------------------

    /** {@link #combineReference(RoutingPlan, float[], float[], int, float[])} in double. */
    public static void combineReference(RoutingPlan plan, double[] weights, double[] yPerm, int d, double[] y) {
        checkForward(plan, weights.length, yPerm.length, d, y.length);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        for (int t = 0; t < plan.numTokens(); t++) {
            for (int c = 0; c < d; c++) y[t * d + c] = 0.0;
            for (int j = 0; j < k; j++) {
                int r = pairToRow[t * k + j];
                if (r < 0) continue;
                double w = weights[t * k + j];
                for (int c = 0; c < d; c++) y[t * d + c] += w * yPerm[r * d + c];
            }
        }
    }

    /** {@link #combineBackwardReference(RoutingPlan, float[], float[], float[], int, float[], float[])} in double. */
    public static void combineBackwardReference(RoutingPlan plan, double[] weights, double[] yPerm, double[] dy, int d,
                                                double[] dyPerm, double[] dWeights) {
        checkBackward(plan, weights.length, yPerm.length, dy.length, d, dyPerm == null ? -1 : dyPerm.length,
                dWeights == null ? -1 : dWeights.length);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        for (int t = 0; t < plan.numTokens(); t++) {
            for (int j = 0; j < k; j++) {
                int p = t * k + j, r = pairToRow[p];
                if (r < 0) {
                    if (dWeights != null) dWeights[p] = 0.0;
                    continue;
                }
                if (dyPerm != null) {
                    for (int c = 0; c < d; c++) dyPerm[r * d + c] = weights[p] * dy[t * d + c];
                }
                if (dWeights != null) {
                    double dot = 0.0;
                    for (int c = 0; c < d; c++) dot += dy[t * d + c] * yPerm[r * d + c];
                    dWeights[p] = dot;
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // fast
    // ---------------------------------------------------------------------------------------------

    /**
     * Fast combine (same contract as {@link #combineReference(RoutingPlan, float[], float[], int, float[])}):
     * per token, the first kept slot is written as {@code w * row}, the others are added as {@code y + w * row};
     * a token with no kept slot is zero-filled.
     */
    public static void combine(RoutingPlan plan, float[] weights, float[] yPerm, int d, float[] y) {
        checkForward(plan, weights.length, yPerm.length, d, y.length);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        ParallelRange.forEach(plan.numTokens(), (long) k * d, (start, end) -> {
            for (int t = start; t < end; t++) {
                boolean first = true;
                for (int j = 0; j < k; j++) {
                    int r = pairToRow[t * k + j];
                    if (r < 0) continue;
                    float w = weights[t * k + j];
                    if (first) VectorRows.scale(w, yPerm, r * d, y, t * d, d);
                    else VectorRows.axpy(w, yPerm, r * d, y, t * d, d);
                    first = false;
                }
                if (first) java.util.Arrays.fill(y, t * d, t * d + d, 0f);
            }
        });
    }

    /**
     * Fast backward (same contract as
     * {@link #combineBackwardReference(RoutingPlan, float[], float[], float[], int, float[], float[])}): per token,
     * the offsets and weights of its kept rows, then ({@code VectorRows.scaleRowsAndDots}) one pass over the d
     * columns per group of up to four kept slots that loads each vector chunk of {@code dy[t]} once and, for
     * every slot of the group, stores {@code w * dy} into its row of {@code dyPerm} and accumulates the dot
     * product with its row of {@code yPerm} in a register of its own (lane-wise fused multiply-add); the k
     * accumulators are reduced once at the end (lanes summed in a fixed order). With only one of the two outputs
     * wanted, one vector pass per kept pair (a scale or a dot product with the same summation order, so the
     * {@code dWeights} bits do not depend on whether {@code dyPerm} is wanted).
     */
    public static void combineBackward(RoutingPlan plan, float[] weights, float[] yPerm, float[] dy, int d,
                                       float[] dyPerm, float[] dWeights) {
        checkBackward(plan, weights.length, yPerm.length, dy.length, d, dyPerm == null ? -1 : dyPerm.length,
                dWeights == null ? -1 : dWeights.length);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        if (dyPerm != null && dWeights != null) {
            ParallelRange.forEach(plan.numTokens(), 2L * k * d, (start, end) -> {
                int[] offs = new int[k], pairs = new int[k];
                float[] w = new float[k], dots = new float[k];
                for (int t = start; t < end; t++) {
                    int m = 0;
                    for (int j = 0; j < k; j++) {
                        int p = t * k + j, r = pairToRow[p];
                        if (r < 0) {
                            dWeights[p] = 0f;                          // dropped
                            continue;
                        }
                        offs[m] = r * d;
                        w[m] = weights[p];
                        pairs[m++] = p;
                    }
                    VectorRows.scaleRowsAndDots(dy, t * d, w, offs, m, dyPerm, yPerm, dots, d);
                    for (int q = 0; q < m; q++) dWeights[pairs[q]] = dots[q];
                }
            });
            return;
        }
        ParallelRange.forEach(plan.numTokens(), 2L * k * d, (start, end) -> {
            for (int t = start; t < end; t++) {
                for (int j = 0; j < k; j++) {
                    int p = t * k + j, r = pairToRow[p];
                    if (r < 0) {
                        if (dWeights != null) dWeights[p] = 0f;
                        continue;
                    }
                    if (dyPerm != null) VectorRows.scale(weights[p], dy, t * d, dyPerm, r * d, d);
                    else if (dWeights != null) dWeights[p] = VectorRows.dot(dy, t * d, yPerm, r * d, d);
                }
            }
        });
    }

    private static void checkForward(RoutingPlan plan, int weightsLength, int yPermLength, int d, int yLength) {
        PlanChecks.plan(plan, d);
        PlanChecks.pairs("weights", weightsLength, plan);
        PlanChecks.rows("yPerm", yPermLength, plan, d);
        PlanChecks.tokens("y", yLength, plan, d);
    }

    /** Lengths of -1 stand for an output that is not wanted (null). */
    private static void checkBackward(RoutingPlan plan, int weightsLength, int yPermLength, int dyLength, int d,
                                      int dyPermLength, int dWeightsLength) {
        PlanChecks.plan(plan, d);
        PlanChecks.pairs("weights", weightsLength, plan);
        PlanChecks.rows("yPerm", yPermLength, plan, d);
        PlanChecks.tokens("dy", dyLength, plan, d);
        if (dyPermLength >= 0) PlanChecks.rows("dyPerm", dyPermLength, plan, d);
        if (dWeightsLength >= 0) PlanChecks.pairs("dWeights", dWeightsLength, plan);
    }
}
