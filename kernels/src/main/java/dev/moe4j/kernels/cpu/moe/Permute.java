package dev.moe4j.kernels.cpu.moe;

/**
 * Permute: gathers token rows into expert-sorted order, and its backward, the unpermute-sum.
 *
 * <h2>Shapes</h2>
 * <pre>
 *   x       [T, d]   token activations
 *   xPerm   [R, d]   xPerm[r, :] = x[token(r), :], rows grouped by expert (plan.offsets)
 *   dxPerm  [R, d]   gradient of xPerm
 *   dx      [T, d]   dx[t, :] = sum over the kept slots j of t, in slot order, of dxPerm[row(t, j), :]
 * </pre>
 * A token appears in up to k rows (once per kept slot), so the backward of the copy is a sum over those rows;
 * a token with every slot dropped gets a zero gradient. Outputs must be arrays distinct from the inputs. Both directions are deterministic: each output row is
 * written by one thread, slots in order. Permute and its backward are adjoint:
 * {@code <permute(x), y> = <x, permuteBackward(y)>}.
 *
 * <p>The fast permute copies rows with {@link System#arraycopy} (the JIT's intrinsic memory copy, which the
 * Vector API cannot beat for a plain copy); the fast backward adds rows with Vector API loops. Large
 * problems are split over rows (permute) or tokens (backward) on the fork-join pool. The fast versions give
 * bit-for-bit the reference results (up to the sign of a zero).
 */
public final class Permute {
    private Permute() {}

    // ---------------------------------------------------------------------------------------------
    // scalar reference
    // ---------------------------------------------------------------------------------------------

    /**
     * Reference permute: {@code xPerm[r, c] = x[token(r), c]} for r in [0, R), c in [0, d).
     *
     * @param x     [T, d]
     * @param xPerm [R, d] out
     * @throws IllegalArgumentException for a negative d or short arrays
     */
    public static void permuteReference(RoutingPlan plan, float[] x, int d, float[] xPerm) {
        checkForward(plan, x, d, xPerm);
        int k = plan.topK();
        int[] rowToPair = plan.rowToPair();
        for (int r = 0; r < plan.numRows(); r++) {
            int t = rowToPair[r] / k;
            for (int c = 0; c < d; c++) xPerm[r * d + c] = x[t * d + c];
        }
    }

    /**
     * Reference backward (unpermute-sum): {@code dx[t, c] = 0 + sum_j dxPerm[row(t, j), c]} over the kept slots
     * j = 0..k-1 in order.
     *
     * @param dxPerm [R, d]
     * @param dx     [T, d] out (overwritten)
     * @throws IllegalArgumentException for a negative d or short arrays
     */
    public static void permuteBackwardReference(RoutingPlan plan, float[] dxPerm, int d, float[] dx) {
        checkBackward(plan, dxPerm, d, dx);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        for (int t = 0; t < plan.numTokens(); t++) {
            for (int c = 0; c < d; c++) dx[t * d + c] = 0f;
            for (int j = 0; j < k; j++) {
                int r = pairToRow[t * k + j];
                if (r < 0) continue;                      // dropped
                for (int c = 0; c < d; c++) dx[t * d + c] += dxPerm[r * d + c];
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // scalar reference, double (for finite-difference checks)
    // ---------------------------------------------------------------------------------------------

    /** {@link #permuteReference(RoutingPlan, float[], int, float[])} in double. */
    public static void permuteReference(RoutingPlan plan, double[] x, int d, double[] xPerm) {
        PlanChecks.plan(plan, d);
        PlanChecks.tokens("x", x.length, plan, d);
        PlanChecks.rows("xPerm", xPerm.length, plan, d);
        int k = plan.topK();
        int[] rowToPair = plan.rowToPair();
        for (int r = 0; r < plan.numRows(); r++) {
            int t = rowToPair[r] / k;
            for (int c = 0; c < d; c++) xPerm[r * d + c] = x[t * d + c];
        }
    }

    /** {@link #permuteBackwardReference(RoutingPlan, float[], int, float[])} in double. */
    public static void permuteBackwardReference(RoutingPlan plan, double[] dxPerm, int d, double[] dx) {
        PlanChecks.plan(plan, d);
        PlanChecks.rows("dxPerm", dxPerm.length, plan, d);
        PlanChecks.tokens("dx", dx.length, plan, d);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        for (int t = 0; t < plan.numTokens(); t++) {
            for (int c = 0; c < d; c++) dx[t * d + c] = 0.0;
            for (int j = 0; j < k; j++) {
                int r = pairToRow[t * k + j];
                if (r < 0) continue;
                for (int c = 0; c < d; c++) dx[t * d + c] += dxPerm[r * d + c];
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // fast
    // ---------------------------------------------------------------------------------------------

    /** Fast permute (same contract as {@link #permuteReference}): one {@link System#arraycopy} per row. */
    public static void permute(RoutingPlan plan, float[] x, int d, float[] xPerm) {
        checkForward(plan, x, d, xPerm);
        int k = plan.topK();
        int[] rowToPair = plan.rowToPair();
        ParallelRange.forEach(plan.numRows(), d, (start, end) -> {
            for (int r = start; r < end; r++) {
                System.arraycopy(x, rowToPair[r] / k * d, xPerm, r * d, d);
            }
        });
    }

    /**
     * Fast backward (same contract as {@link #permuteBackwardReference}): per token, the offsets of its kept rows
     * in slot order, then one pass over the d columns that loads each of those rows once per vector chunk, adds
     * them left to right in registers and stores dx[t] once ({@code VectorRows.sumRows}); a single kept row is
     * one {@link System#arraycopy}, none a zero fill. The additions are those of the reference in the same
     * order (its leading {@code 0 +} only changes the sign of a zero), so the result is the same bits.
     */
    public static void permuteBackward(RoutingPlan plan, float[] dxPerm, int d, float[] dx) {
        checkBackward(plan, dxPerm, d, dx);
        int k = plan.topK();
        int[] pairToRow = plan.pairToRow();
        ParallelRange.forEach(plan.numTokens(), (long) k * d, (start, end) -> {
            int[] offs = new int[k];
            for (int t = start; t < end; t++) {
                int m = 0;
                for (int j = 0; j < k; j++) {
                    int r = pairToRow[t * k + j];
                    if (r >= 0) offs[m++] = r * d;                // dropped slots are skipped
                }
                if (m == 0) java.util.Arrays.fill(dx, t * d, t * d + d, 0f);
                else VectorRows.sumRows(dxPerm, offs, m, dx, t * d, d);
            }
        });
    }

    private static void checkForward(RoutingPlan plan, float[] x, int d, float[] xPerm) {
        PlanChecks.plan(plan, d);
        PlanChecks.tokens("x", x.length, plan, d);
        PlanChecks.rows("xPerm", xPerm.length, plan, d);
    }

    private static void checkBackward(RoutingPlan plan, float[] dxPerm, int d, float[] dx) {
        PlanChecks.plan(plan, d);
        PlanChecks.rows("dxPerm", dxPerm.length, plan, d);
        PlanChecks.tokens("dx", dx.length, plan, d);
    }
}
