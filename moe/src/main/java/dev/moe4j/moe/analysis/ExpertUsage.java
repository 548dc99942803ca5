package dev.moe4j.moe.analysis;

import dev.moe4j.moe.Routing;

import java.util.Arrays;

/**
 * How often each expert of one MoE layer is chosen over a dataset: the statistic that task-specific
 * expert pruning ranks experts by (Chen et al., "Task-Specific Expert Pruning for Sparse
 * Mixture-of-Experts"). Feed it the routing of every batch ({@link #add}); it counts, per expert,
 * the (token, slot) pairs the router chose for it (before any capacity drop; slots a dynamic router
 * did not select and null experts count for none) and the gate weight those pairs carried.
 */
public final class ExpertUsage {
    private final int numExperts;
    private final long[] counts;
    private final double[] weightSums;
    private long tokens;

    /** @param numExperts E. @throws IllegalArgumentException for E &lt; 1 */
    public ExpertUsage(int numExperts) {
        if (numExperts < 1) throw new IllegalArgumentException("the number of experts E must be >= 1, got " + numExperts);
        this.numExperts = numExperts;
        this.counts = new long[numExperts];
        this.weightSums = new double[numExperts];
    }

    /**
     * Adds one batch.
     *
     * @param routing a routing over this E
     * @return this
     * @throws IllegalArgumentException when the routing has another E
     */
    public ExpertUsage add(Routing routing) {
        if (routing.numExperts() != numExperts) {
            throw new IllegalArgumentException("expert usage counts E = " + numExperts + " experts, the routing has " + routing.numExperts());
        }
        double[] w = routing.weights().toDoubleArray();
        int[] ids = routing.expertIds();
        for (int p = 0; p < ids.length; p++) {
            if (!routing.isSelected(p) || ids[p] >= numExperts) continue;
            counts[ids[p]]++;
            weightSums[ids[p]] += w[p];
        }
        tokens += routing.numTokens();
        return this;
    }

    /** E. */
    public int numExperts() { return numExperts; }

    /** Tokens seen. */
    public long tokens() { return tokens; }

    /** Pairs routed to each expert [E] (a copy). */
    public long[] counts() { return counts.clone(); }

    /** Gate weight summed per expert [E] (a copy). */
    public double[] weightSums() { return weightSums.clone(); }

    /** Share of the routed pairs per expert [E] (all 0 before any pair). */
    public double[] frequencies() {
        long total = 0;
        for (long c : counts) total += c;
        double[] f = new double[numExperts];
        for (int e = 0; e < numExperts; e++) f[e] = total == 0 ? 0 : (double) counts[e] / total;
        return f;
    }

    /**
     * The n most chosen experts (ties to the lower id), returned in increasing id order so that a
     * rebuilt layer keeps the experts' original order.
     *
     * @throws IllegalArgumentException for n outside [1, E]
     */
    public int[] mostUsed(int n) {
        if (n < 1 || n > numExperts) throw new IllegalArgumentException("can keep 1 .. E = " + numExperts + " experts, asked for " + n);
        Integer[] order = new Integer[numExperts];
        for (int e = 0; e < numExperts; e++) order[e] = e;
        Arrays.sort(order, (a, b) -> counts[a] != counts[b] ? Long.compare(counts[b], counts[a]) : Integer.compare(a, b));
        int[] keep = new int[n];
        for (int i = 0; i < n; i++) keep[i] = order[i];
        Arrays.sort(keep);
        return keep;
    }

    /** A table: per expert its count, share and summed gate weight. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("expert usage over ").append(tokens).append(" tokens\n");
        double[] f = frequencies();
        b.append(String.format("%6s %10s %7s %12s%n", "expert", "pairs", "share", "gate weight"));
        for (int e = 0; e < numExperts; e++) b.append(String.format("%6d %10d %6.2f%% %12.4f%n", e, counts[e], 100 * f[e], weightSums[e]));
        return b.toString();
    }
}
