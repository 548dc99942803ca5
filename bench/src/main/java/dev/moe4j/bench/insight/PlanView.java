package dev.moe4j.bench.insight;

import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.Routing;

/**
 * Stage 2, the routing plan, as permute, grouped GEMM and combine read it:
 * <ul>
 *   <li>the per-expert histogram (demand: pairs routed to the expert; count: pairs it keeps under
 *       its capacity) and the exclusive prefix sum of the counts, the row offsets of each expert's
 *       group in the permuted matrix;</li>
 *   <li>the permutation table: row r of the permuted matrix holds token {@code token(r)}'s slot
 *       {@code slot(r)}; rows are sorted by expert, stably (token order within an expert);</li>
 *   <li>the dropped pairs (over capacity, or not selected, or sent to a null expert): their tokens
 *       skip that expert.</li>
 * </ul>
 */
public final class PlanView {
    private final Routing routing;
    private final RoutingPlan plan;
    private final double[] weights;
    private final int maxRows;

    /**
     * @param routing the routing whose plan is shown
     * @param maxRows rows of the permutation and dropped tables printed by {@link #toString()}
     */
    public PlanView(Routing routing, int maxRows) {
        this.routing = routing;
        this.plan = routing.plan();
        this.weights = routing.weights().toDoubleArray();
        this.maxRows = maxRows;
    }

    /** The plan shown. */
    public RoutingPlan plan() { return plan; }

    /** Per expert: demand, count, offset, its row range and a bar of its count. */
    public TextTable histogram() {
        boolean capped = plan.capacity() != RoutingPlan.UNLIMITED;
        TextTable t = new TextTable("expert", "demand", "kept", "offset", "rows", "load");
        t.title("2a. histogram and offsets: demand[e] = pairs routed to e" + (capped ? ", kept[e] = min(demand, capacity " + plan.capacity() + ")" : "")
                + ", offsets = exclusive prefix sum of kept");
        int max = 1;
        for (int c : plan.counts()) max = Math.max(max, c);
        for (int e = 0; e < plan.numExperts(); e++) {
            int lo = plan.offsets()[e], hi = plan.offsets()[e + 1];
            t.row(e, plan.demand()[e], plan.counts()[e], lo, hi > lo ? lo + ".." + (hi - 1) : "(none)", Fmt.bar(plan.counts()[e], max, 24));
        }
        t.note("offsets " + java.util.Arrays.toString(plan.offsets()) + "; R = offsets[E] = " + plan.numRows() + " rows of " + plan.numPairs()
                + " (token, slot) pairs");
        int empty = 0;
        for (int c : plan.counts()) if (c == 0) empty++;
        if (empty > 0) t.note(empty + " expert(s) received no rows: an empty group, legal in every kernel");
        return t;
    }

    /** The permutation: one line per row of the permuted matrix. */
    public TextTable permutation() {
        TextTable t = new TextTable("row", "expert", "token", "slot", "gate weight");
        t.title("2b. permutation (row -> token, slot): xPerm[row] = x[token]; rows grouped by expert, token order within an expert");
        t.maxRows(maxRows);
        int k = plan.topK();
        for (int r = 0; r < plan.numRows(); r++) {
            int p = plan.rowToPair()[r];
            t.row(r, plan.expertOfRow(r), p / k, p % k, weights[p]);
        }
        return t;
    }

    /** The pairs not computed, with the reason. */
    public TextTable dropped() {
        int k = plan.topK();
        TextTable t = new TextTable("token", "slot", "expert", "gate weight", "why");
        boolean expertChoice = routing.router().startsWith("expert choice");
        if (expertChoice) {
            t.title("2c. expert choice: each expert keeps its " + plan.capacity() + " best tokens; " + plan.dropped().length + " of " + plan.numPairs()
                    + " (token, expert) pairs not taken; tokens no expert took: " + routing.unprocessedTokens());
        } else {
            int unselected = 0;
            for (int p : plan.dropped()) if (!routing.isSelected(p)) unselected++;
            t.title("2c. dropped pairs: " + routing.droppedPairs() + " over capacity" + (routing.numNullExperts() > 0 ? ", " + routing.nullPairs() + " to null experts" : "")
                    + (unselected > 0 ? ", " + unselected + " slots not selected" : "") + "; tokens no expert processes: " + routing.unprocessedTokens());
        }
        t.maxRows(maxRows);
        int notTaken = 0;
        for (int p : plan.dropped()) {
            String why;
            if (!routing.isSelected(p)) why = "not selected (past the threshold)";
            else if (routing.isNull(p)) why = "null expert (no computation)";
            else if (expertChoice) {
                notTaken++;
                continue;
            } else why = "over capacity " + plan.capacity() + " of expert " + routing.expertIds()[p];
            t.row(p / k, p % k, routing.isNull(p) ? "null" : String.valueOf(routing.expertIds()[p]), weights[p], why);
        }
        if (expertChoice) t.note("(the " + notTaken + " pairs not taken are not listed; stage 1 shows what each token got)");
        if (t.size() == 0 && !expertChoice) t.note("(none: every chosen pair is computed)");
        return t;
    }

    @Override
    public String toString() {
        return histogram() + "\n" + permutation() + "\n" + dropped();
    }
}
