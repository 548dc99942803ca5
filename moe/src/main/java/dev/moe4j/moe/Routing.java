package dev.moe4j.moe;

import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.ops.DevicePlan;
import dev.moe4j.tensor.Device;
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
 * <h2>On a CUDA device</h2>
 * A routing made on a device keeps its plan there ({@link DevicePlan}) with the expert ids as a
 * device tensor; the host holds only the per-expert demand and offsets (for shapes and the load). The
 * full plan and the ids come to the host the first time {@link #plan()} or {@link #expertIds()} is
 * called (printing, reports, balance losses). A routing whose plan was built on the host uploads it
 * once when {@link #devicePlan(Device)} is asked for it.
 */
public final class Routing {
    private final String router;
    private final boolean[] selected;
    private final Tensor weights, logits, scores;
    private final double[] selectionBias;
    private final int numNullExperts;
    private volatile RoutingPlan plan;            // host plan: given, or downloaded from the device plan when asked for
    private volatile int[] expertIds;             // host ids: given, or downloaded from deviceIds when asked for
    private volatile DevicePlan devicePlan;       // device plan: built on the device, or uploaded from the host plan
    private final Tensor deviceIds;      // [T, k] I32 on the device of a device routing, else null

    /**
     * A routing with its plan on the host.
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
     * @throws IllegalArgumentException when the arrays do not fit the plan
     */
    public Routing(String router, RoutingPlan plan, int[] expertIds, boolean[] selected, Tensor weights, Tensor logits,
                   Tensor scores, double[] selectionBias, int numNullExperts) {
        if (plan == null || expertIds == null || weights == null) throw new IllegalArgumentException("routing needs a plan, expert ids and weights");
        if (expertIds.length != plan.numPairs()) {
            throw new IllegalArgumentException("routing: " + expertIds.length + " expert ids for a plan of " + plan.numPairs() + " pairs");
        }
        if (selected != null && selected.length != plan.numPairs()) {
            throw new IllegalArgumentException("routing: selection mask of " + selected.length + " for " + plan.numPairs() + " pairs");
        }
        checkWeights(weights, plan.numTokens(), plan.topK());
        this.router = router;
        this.plan = plan;
        this.expertIds = expertIds;
        this.selected = selected;
        this.weights = weights;
        this.logits = logits;
        this.scores = scores;
        this.selectionBias = selectionBias;
        this.numNullExperts = numNullExperts;
        this.deviceIds = null;
    }

    /**
     * A routing made on a CUDA device: every pair selected, no null experts.
     *
     * @param router        the router's name, for printing
     * @param plan          the plan on the device
     * @param deviceIds     [T, k] I32 expert ids on the same device
     * @param weights       [T, k] gate weights
     * @param logits        [T, E] logits or null
     * @param scores        [T, E] scores or null
     * @param selectionBias [E] the selection bias or null
     * @throws IllegalArgumentException when the ids or weights do not fit the plan
     */
    public Routing(String router, DevicePlan plan, Tensor deviceIds, Tensor weights, Tensor logits, Tensor scores, double[] selectionBias) {
        if (plan == null || deviceIds == null || weights == null) throw new IllegalArgumentException("routing needs a plan, expert ids and weights");
        if (deviceIds.rank() != 2 || deviceIds.size(0) != plan.numTokens() || deviceIds.size(1) != plan.topK()) {
            throw new IllegalArgumentException("routing: expert ids " + dev.moe4j.tensor.Shape.str(deviceIds.shape()) + " do not match [T, k] = ["
                    + plan.numTokens() + ", " + plan.topK() + "]");
        }
        checkWeights(weights, plan.numTokens(), plan.topK());
        this.router = router;
        this.devicePlan = plan;
        this.deviceIds = deviceIds;
        this.selected = null;
        this.weights = weights;
        this.logits = logits;
        this.scores = scores;
        this.selectionBias = selectionBias;
        this.numNullExperts = 0;
    }

    private static void checkWeights(Tensor weights, int T, int k) {
        if (weights.rank() != 2 || weights.size(0) != T || weights.size(1) != k) {
            throw new IllegalArgumentException("routing: weights " + dev.moe4j.tensor.Shape.str(weights.shape()) + " do not match [T, k] = ["
                    + T + ", " + k + "]");
        }
    }

    /** The router's name, for printing. */
    public String router() { return router; }

    /** The routing plan over the E real experts, on the host (downloaded once for a device routing). */
    public synchronized RoutingPlan plan() {
        if (plan == null) plan = devicePlan.toHost();
        return plan;
    }

    /** [T * k] expert ids (the array itself; downloaded once for a device routing). */
    public synchronized int[] expertIds() {
        if (expertIds == null) expertIds = deviceIds.cpu().toIntArray();
        return expertIds;
    }

    /** [T * k] selection mask, or null when every pair was chosen. */
    public boolean[] selected() { return selected; }

    /** [T, k] gate weights. */
    public Tensor weights() { return weights; }

    /** [T, E'] router logits, or null. */
    public Tensor logits() { return logits; }

    /** [T, E'] scores, or null. */
    public Tensor scores() { return scores; }

    /** [E'] selection bias, or null. */
    public double[] selectionBias() { return selectionBias; }

    /** Null experts beyond E. */
    public int numNullExperts() { return numNullExperts; }

    /** [T, k] I32 expert ids on the device of a device routing, or null for a host routing. */
    public Tensor deviceIds() { return deviceIds; }

    /** Whether the plan was built on a device (then {@link #devicePlan(Device)} needs no upload). */
    public boolean builtOnDevice() { return deviceIds != null; }

    /**
     * The plan on CUDA device {@code device}: the device plan of a device routing, or the host plan
     * uploaded (once).
     *
     * @throws IllegalArgumentException when {@code device} is the CPU
     */
    public synchronized DevicePlan devicePlan(Device device) {
        if (devicePlan == null || !devicePlan.device().equals(device)) devicePlan = DevicePlan.upload(plan(), device);
        return devicePlan;
    }

    /** [E + 1] row offsets per expert, on the host (without downloading a device plan). */
    public int[] offsets() { return plan != null ? plan.offsets().clone() : devicePlan.offsets(); }

    /** T, the number of tokens. */
    public int numTokens() { return plan != null ? plan.numTokens() : devicePlan.numTokens(); }

    /** k, the slots per token. */
    public int topK() { return plan != null ? plan.topK() : devicePlan.topK(); }

    /** E, the number of real experts. */
    public int numExperts() { return plan != null ? plan.numExperts() : devicePlan.numExperts(); }

    /** Tokens (pairs) each expert processes in this batch, after capacity: the per-expert load [E] (a copy). */
    public int[] load() { return plan != null ? plan.counts().clone() : devicePlan.counts(); }

    /** Pairs routed to each expert before capacity [E] (a copy). */
    public int[] demand() { return plan != null ? plan.demand().clone() : devicePlan.demand(); }

    /** Whether pair p was chosen by the router. */
    public boolean isSelected(int pair) { return selected == null || selected[pair]; }

    /** Whether pair p went to a null expert. */
    public boolean isNull(int pair) { return isSelected(pair) && expertIds()[pair] >= numExperts(); }

    /** Whether pair p was chosen for a real expert but dropped by its capacity. */
    public boolean isDropped(int pair) {
        return isSelected(pair) && expertIds()[pair] < numExperts() && plan().pairToRow()[pair] < 0;
    }

    /** Number of pairs dropped by expert capacity. */
    public int droppedPairs() {
        int n = 0;
        for (int p = 0; p < numTokens() * topK(); p++) if (isDropped(p)) n++;
        return n;
    }

    /** Number of pairs sent to null experts. */
    public int nullPairs() {
        int n = 0;
        for (int p = 0; p < numTokens() * topK(); p++) if (isNull(p)) n++;
        return n;
    }

    /** Number of tokens that no real expert processes (every chosen real slot dropped, or only null experts chosen). */
    public int unprocessedTokens() {
        int n = 0, k = topK();
        int[] pairToRow = plan().pairToRow();
        for (int t = 0; t < numTokens(); t++) {
            boolean any = false;
            for (int j = 0; j < k; j++) any |= pairToRow[t * k + j] >= 0;
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
        b.append(plan());
        double[] w = weights.cpu().toDoubleArray();
        int[] expertIds = expertIds();
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
