package dev.moe4j.bench.insight;

import dev.moe4j.moe.Routing;

/**
 * Summary numbers of a routing, as the report charts them.
 * <ul>
 *   <li>{@link #imbalance}: max load / mean load (1 = perfect balance);</li>
 *   <li>{@link #loadEntropy}: entropy of the load shares, H(load / sum) in nats; ln E is the
 *       maximum, reached by a perfectly balanced load;</li>
 *   <li>{@link #meanTokenEntropy}: the mean over tokens of the entropy of the router's score
 *       distribution (scores normalised to sum 1), in nats: high when the router is unsure, 0 when
 *       each token puts all its score on one expert.</li>
 * </ul>
 */
public final class RoutingStats {
    private RoutingStats() {}

    /** max / mean of the per-expert load; 0 for an empty load. */
    public static double imbalance(int[] load) {
        long sum = 0;
        int max = 0;
        for (int c : load) {
            sum += c;
            max = Math.max(max, c);
        }
        return sum == 0 ? 0 : max / ((double) sum / load.length);
    }

    /** The entropy of the load shares in nats (0 for an empty load). */
    public static double loadEntropy(int[] load) {
        long sum = 0;
        for (int c : load) sum += c;
        if (sum == 0) return 0;
        double h = 0;
        for (int c : load) {
            if (c == 0) continue;
            double p = (double) c / sum;
            h -= p * Math.log(p);
        }
        return h;
    }

    /**
     * The mean per-token entropy of score rows [T, E] (each row normalised to sum 1 first), in nats;
     * rows summing to 0 count as 0.
     *
     * @throws IllegalArgumentException when the length is not a multiple of E
     */
    public static double meanTokenEntropy(double[] scores, int numExperts) {
        if (numExperts < 1 || scores.length % numExperts != 0) {
            throw new IllegalArgumentException("scores of length " + scores.length + " are not [T, E] with E = " + numExperts);
        }
        int T = scores.length / numExperts;
        if (T == 0) return 0;
        double total = 0;
        for (int t = 0; t < T; t++) {
            double s = 0;
            for (int e = 0; e < numExperts; e++) s += Math.max(0, scores[t * numExperts + e]);
            if (!(s > 0)) continue;
            double h = 0;
            for (int e = 0; e < numExperts; e++) {
                double p = Math.max(0, scores[t * numExperts + e]) / s;
                if (p > 0) h -= p * Math.log(p);
            }
            total += h;
        }
        return total / T;
    }

    /** The mean per-token score entropy of a routing in nats, or NaN for a router without scores. */
    public static double meanTokenEntropy(Routing routing) {
        if (routing.scores() == null) return Double.NaN;
        return meanTokenEntropy(routing.scores().toDoubleArray(), routing.scores().size(-1));
    }
}
