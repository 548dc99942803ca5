package dev.moe4j.moe.routing;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;

import java.util.Arrays;

/**
 * Builds {@link RoutingPlan}s for every router: from the expert id of each (token, slot) pair, which
 * pairs the router selected at all (top-p slots past the threshold and pairs sent to null experts
 * are not computed), and an expert {@link Capacity} applied per group of tokens.
 *
 * <p>Algorithm (the one of {@link RoutingPlan#build}, with a selection mask and groups):
 * <ol>
 *   <li>demand: a histogram of the selected pairs per expert;</li>
 *   <li>capacity, per group of tokens and expert: keep the first C selected pairs in pair order
 *       ({@link DropPolicy#BY_POSITION}) or the C with the highest weight, ties to the lower pair
 *       ({@link DropPolicy#BY_SCORE});</li>
 *   <li>counts, exclusive prefix sum into offsets, and a stable scatter of the kept pairs in pair
 *       order; unkept pairs (not selected or over capacity) get row -1 and are listed as dropped.</li>
 * </ol>
 */
public final class Plans {
    private Plans() {}

    /**
     * The plan of a routing.
     *
     * @param expertIds  [T * k] expert of each pair; only pairs with {@code selected} true must lie in [0, E)
     * @param selected   [T * k] which pairs the router chose, or null for all
     * @param weights    [T * k] gate weights, used by {@link DropPolicy#BY_SCORE}; may be null otherwise
     * @param numTokens  T
     * @param k          slots per token
     * @param numExperts E
     * @param capacity   the capacity rule
     * @throws IllegalArgumentException for bad sizes, a missing or NaN weight under BY_SCORE;
     *         IndexOutOfBoundsException naming token and slot of a selected id outside [0, E)
     */
    public static RoutingPlan build(int[] expertIds, boolean[] selected, double[] weights, int numTokens, int k, int numExperts,
                                    Capacity capacity) {
        if (numTokens < 0 || k < 1 || numExperts < 1) {
            throw new IllegalArgumentException("need T >= 0, k >= 1, E >= 1, got T = " + numTokens + ", k = " + k + ", E = " + numExperts);
        }
        int pairs = Math.multiplyExact(numTokens, k);
        if (expertIds.length != pairs) throw new IllegalArgumentException("expert ids has " + expertIds.length + " entries, [T, k] = [" + numTokens + ", " + k + "] needs " + pairs);
        if (selected != null && selected.length != pairs) throw new IllegalArgumentException("selection mask has " + selected.length + " entries, needs " + pairs);
        for (int p = 0; p < pairs; p++) {
            if (selected != null && !selected[p]) continue;
            int e = expertIds[p];
            if (e < 0 || e >= numExperts) {
                throw new IndexOutOfBoundsException("expert id " + e + " at token " + p / k + ", slot " + p % k + " is outside [0, " + numExperts + ")");
            }
        }
        int groupSize = capacity.groupSize() == 0 ? Math.max(numTokens, 1) : capacity.groupSize();
        boolean byScore = capacity.policy() == DropPolicy.BY_SCORE && !capacity.isUnlimited();
        if (byScore) {
            if (weights == null || weights.length != pairs) throw new IllegalArgumentException("dropping by score needs the gate weights [T, k] = [" + numTokens + ", " + k + "]");
            for (int p = 0; p < pairs; p++) {
                if (Double.isNaN(weights[p]) && (selected == null || selected[p])) {
                    throw new IllegalArgumentException("gate weight is NaN at token " + p / k + ", slot " + p % k + "; cannot rank pairs by score");
                }
            }
        }

        int[] demand = new int[numExperts];
        boolean[] kept = new boolean[pairs];
        for (int p = 0; p < pairs; p++) {
            if (selected == null || selected[p]) {
                demand[expertIds[p]]++;
                kept[p] = true;
            }
        }
        int capacityValue = RoutingPlan.UNLIMITED;
        if (!capacity.isUnlimited()) {
            for (int g0 = 0; g0 < numTokens; g0 += groupSize) {
                int g1 = Math.min(numTokens, g0 + groupSize);
                int c = capacity.perExpert(g1 - g0, k, numExperts);
                capacityValue = Math.max(capacityValue, c);
                if (c == RoutingPlan.UNLIMITED) continue;
                if (byScore) keepByScore(expertIds, kept, weights, g0 * k, g1 * k, numExperts, c);
                else keepByPosition(expertIds, kept, g0 * k, g1 * k, numExperts, c);
            }
        }
        int[] counts = new int[numExperts];
        for (int p = 0; p < pairs; p++) if (kept[p]) counts[expertIds[p]]++;
        int[] offsets = new int[numExperts + 1];
        for (int e = 0; e < numExperts; e++) offsets[e + 1] = offsets[e] + counts[e];
        int rows = offsets[numExperts];
        int[] cursor = Arrays.copyOf(offsets, numExperts);
        int[] rowToPair = new int[rows], pairToRow = new int[pairs], dropped = new int[pairs - rows];
        int nd = 0;
        for (int p = 0; p < pairs; p++) {
            if (kept[p]) {
                int r = cursor[expertIds[p]]++;
                rowToPair[r] = p;
                pairToRow[p] = r;
            } else {
                pairToRow[p] = -1;
                dropped[nd++] = p;
            }
        }
        return new RoutingPlan(numTokens, k, numExperts, capacityValue, demand, counts, offsets, rowToPair, pairToRow, dropped);
    }

    /** In pairs [from, to): each expert keeps its first c kept pairs. */
    private static void keepByPosition(int[] ids, boolean[] kept, int from, int to, int numExperts, int c) {
        int[] seen = new int[numExperts];
        for (int p = from; p < to; p++) {
            if (kept[p] && seen[ids[p]]++ >= c) kept[p] = false;
        }
    }

    /** In pairs [from, to): each expert keeps its c kept pairs of highest weight (ties: lower pair). */
    private static void keepByScore(int[] ids, boolean[] kept, double[] w, int from, int to, int numExperts, int c) {
        int[] demand = new int[numExperts];
        for (int p = from; p < to; p++) if (kept[p]) demand[ids[p]]++;
        int[] start = new int[numExperts + 1];
        for (int e = 0; e < numExperts; e++) start[e + 1] = start[e] + demand[e];
        int[] fill = Arrays.copyOf(start, numExperts);
        Integer[] byExpert = new Integer[start[numExperts]];
        for (int p = from; p < to; p++) if (kept[p]) byExpert[fill[ids[p]]++] = p;
        for (int e = 0; e < numExperts; e++) {
            if (demand[e] <= c) continue;
            Integer[] mine = Arrays.copyOfRange(byExpert, start[e], start[e + 1]);
            Arrays.sort(mine, (a, b) -> {
                int byWeight = Double.compare(w[b], w[a]);
                return byWeight != 0 ? byWeight : Integer.compare(a, b);
            });
            for (int i = c; i < mine.length; i++) kept[mine[i]] = false;
        }
    }
}
