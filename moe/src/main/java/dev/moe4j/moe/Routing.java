package dev.moe4j.moe;

import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.tensor.Tensor;

/**
 * What a router decided for one batch of T tokens: the layer-level routing plan. Routers produce it;
 * permute, the grouped expert GEMMs and combine consume it; {@link #toString()} prints it as a table.
 *
 * <pre>
 *   expertIds [T, k]  expert of each (token, slot) pair; ids &gt;= E name null experts (no computation)
 *   selected  [T, k]  whether the router chose the pair at all (false: a dynamic top-p slot past the
 *                     threshold); null means every pair was chosen
 *   weights   [T, k]  gate weights (part of the autograd graph when the router is trainable)
 *   logits    [T, E'] router logits (E' = E plus null experts), or null for routers without any
 *   scores    [T, E'] scores the choice was made on (softmax or sigmoid, before any selection bias);
 *                     not part of the graph; null for routers without any
 *   plan               the kernel plan: per-expert demand, counts and offsets, row &lt;-&gt; (token, slot),
 *                     and the pairs not computed (over capacity, not selected, or null experts)
 * </pre>
 *
 * @param router         the router's name, for printing
 * @param plan           the routing plan over the E real experts
 * @param expertIds      [T * k] expert ids
 * @param selected       [T * k] selection mask or null
 * @param weights        [T, k] gate weights
 * @param logits         [T, E'] logits or null
 * @param scores         [T, E'] scores or null
 * @param selectionBias  [E'] the bias added to the scores for choosing, or null
 * @param numNullExperts experts beyond E that compute nothing (AdaMoE)
 */
public record Routing(String router, RoutingPlan plan, int[] expertIds, boolean[] selected, Tensor weights, Tensor logits,
                      Tensor scores, double[] selectionBias, int numNullExperts) {

    /**
     * @throws IllegalArgumentException when the arrays do not fit the plan
     */
    public Routing {
        if (plan == null || expertIds == null || weights == null) throw new IllegalArgumentException("routing needs a plan, expert ids and weights");
        if (expertIds.length != plan.numPairs()) {
            throw new IllegalArgumentException("routing: " + expertIds.length + " expert ids for a plan of " + plan.numPairs() + " pairs");
        }
        if (selected != null && selected.length != plan.numPairs()) {
            throw new IllegalArgumentException("routing: selection mask of " + selected.length + " for " + plan.numPairs() + " pairs");
        }
        if (weights.rank() != 2 || weights.size(0) != plan.numTokens() || weights.size(1) != plan.topK()) {
            throw new IllegalArgumentException("routing: weights " + dev.moe4j.tensor.Shape.str(weights.shape()) + " do not match [T, k] = ["
                    + plan.numTokens() + ", " + plan.topK() + "]");
        }
    }

    /** T, the number of tokens. */
    public int numTokens() { return plan.numTokens(); }

    /** k, the slots per token. */
    public int topK() { return plan.topK(); }

    /** E, the number of real experts. */
    public int numExperts() { return plan.numExperts(); }

    /** Tokens (pairs) each expert processes in this batch, after capacity: the per-expert load [E] (a copy). */
    public int[] load() { return plan.counts().clone(); }

    /** Pairs routed to each expert before capacity [E] (a copy). */
    public int[] demand() { return plan.demand().clone(); }

    /** Whether pair p was chosen by the router. */
    public boolean isSelected(int pair) { return selected == null || selected[pair]; }

    /** Whether pair p went to a null expert. */
    public boolean isNull(int pair) { return isSelected(pair) && expertIds[pair] >= numExperts(); }

    /** Whether pair p was chosen for a real expert but dropped by its capacity. */
    public boolean isDropped(int pair) {
        return isSelected(pair) && expertIds[pair] < numExperts() && plan.pairToRow()[pair] < 0;
    }

    /** Number of pairs dropped by expert capacity. */
    public int droppedPairs() {
        int n = 0;
        for (int p = 0; p < plan.numPairs(); p++) if (isDropped(p)) n++;
        return n;
    }

    /** Number of pairs sent to null experts. */
    public int nullPairs() {
        int n = 0;
        for (int p = 0; p < plan.numPairs(); p++) if (isNull(p)) n++;
        return n;
    }

    /** Number of tokens that no real expert processes (every chosen real slot dropped, or only null experts chosen). */
    public int unprocessedTokens() {
        int n = 0, k = topK();
        for (int t = 0; t < numTokens(); t++) {
            boolean any = false;
            for (int j = 0; j < k; j++) any |= plan.pairToRow()[t * k + j] >= 0;
            if (!any) n++;
        }
        return n;
    }

    /** Number of tokens with at least one slot dropped by capacity. */
    public int tokensWithDrops() {
        int n = 0, k = topK();
        for (int t = 0; t < numTokens(); t++) {
            boolean any = false;
            for (int j = 0; j < k; j++) any |= isDropped(t * k + j);
            if (any) n++;
        }
        return n;
    }

    /** Tokens shown in the per-token part of {@link #toString()}. */
    private static final int SHOWN_TOKENS = 16;

    /**
     * The routing as text: a summary line, the plan's table (per expert: demand, count, row offset and
     * the (token.slot) pairs of its rows; the dropped pairs), then the first tokens with their experts
     * and gate weights ({@code e3:0.612}; {@code ~} marks a dropped pair, {@code null} a null expert,
     * {@code -} a slot not selected).
     */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        b.append("Routing[").append(router).append(": T=").append(numTokens()).append(", k=").append(topK()).append(", E=").append(numExperts());
        if (numNullExperts > 0) b.append(" + ").append(numNullExperts).append(" null");
        b.append(", dropped pairs=").append(droppedPairs());
        if (numNullExperts > 0) b.append(", null pairs=").append(nullPairs());
        b.append(", unprocessed tokens=").append(unprocessedTokens()).append("]\n");
        b.append(plan);
        double[] w = weights.toDoubleArray();
        int k = topK();
        b.append("tokens (expert:weight):\n");
        for (int t = 0; t < Math.min(numTokens(), SHOWN_TOKENS); t++) {
            b.append(String.format("%6d ", t));
            for (int j = 0; j < k; j++) {
                int p = t * k + j;
                if (!isSelected(p)) { b.append(" -"); continue; }
                b.append(' ');
                if (isNull(p)) b.append("null");
                else b.append(isDropped(p) ? "~e" : "e").append(expertIds[p]);
                b.append(':').append(String.format("%.3f", w[p]));
            }
            b.append('\n');
        }
        if (numTokens() > SHOWN_TOKENS) b.append("   ... (").append(numTokens() - SHOWN_TOKENS).append(" more tokens)\n");
        return b.toString();
    }
}
