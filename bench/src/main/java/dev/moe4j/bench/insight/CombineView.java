package dev.moe4j.bench.insight;

import dev.moe4j.kernels.cpu.moe.RoutingPlan;

/**
 * Stage 4, the combine: each token sums its kept expert rows with their gate weights, in slot
 * order (deterministic, no atomics):
 * <pre>
 *   y[t] = sum over kept slots j of  w[t, j] * yPerm[row(t, j)]      [T, d]
 * </pre>
 * A token whose every slot was dropped gets a zero routed output (the residual stream carries it
 * on). Printed per token: the terms, the norm of each expert row and of the sum.
 */
public final class CombineView {
    private final RoutingPlan plan;
    private final double[] weights, yPerm, y;
    private final int d, maxTokens;

    /**
     * @param plan      the routing plan
     * @param weights   [T, k] gate weights
     * @param yPerm     [R, d] expert outputs in permuted order
     * @param y         [T, d] the routed output
     * @param d         the hidden size
     * @param maxTokens tokens printed
     * @throws IllegalArgumentException when an array does not fit the plan
     */
    public CombineView(RoutingPlan plan, double[] weights, double[] yPerm, double[] y, int d, int maxTokens) {
        int T = plan.numTokens(), k = plan.topK(), R = plan.numRows();
        if (weights.length != T * k || yPerm.length != R * d || y.length != T * d) {
            throw new IllegalArgumentException("combine view: weights " + weights.length + ", yPerm " + yPerm.length + ", y " + y.length
                    + " do not fit [T, k] = [" + T + ", " + k + "], [R, d] = [" + R + ", " + d + "], [T, d]");
        }
        this.plan = plan;
        this.weights = weights;
        this.yPerm = yPerm;
        this.y = y;
        this.d = d;
        this.maxTokens = maxTokens;
    }

    /** The terms of token t: {@code 0.612 * yPerm[7] (e3, |.| 1.23)} joined by {@code +}. */
    public String terms(int token) {
        int k = plan.topK();
        StringBuilder b = new StringBuilder();
        for (int j = 0; j < k; j++) {
            int r = plan.rowOf(token, j);
            if (r < 0) continue;
            if (!b.isEmpty()) b.append(" + ");
            b.append(Fmt.fixed(weights[token * k + j], 3)).append(" * yPerm[").append(r).append("] (e").append(plan.expertOfRow(r))
                    .append(", |row| ").append(Fmt.num(Fmt.norm(yPerm, r * d, d))).append(')');
        }
        return b.isEmpty() ? "0 (every slot dropped)" : b.toString();
    }

    /** The norm of the routed output of token t. */
    public double outputNorm(int token) { return Fmt.norm(y, token * d, d); }

    /** The stage as a table. */
    public TextTable table() {
        TextTable t = new TextTable("token", "y[t] = sum_j w[t,j] * yPerm[row(t,j)]", "|y[t]|");
        t.title("4. combine: each token sums its kept expert rows with the gate weights, slot by slot (no atomics) -> y [T, d]");
        int n = Math.min(maxTokens, plan.numTokens());
        for (int tok = 0; tok < n; tok++) t.row(tok, terms(tok), outputNorm(tok));
        if (plan.numTokens() > n) t.note("... " + (plan.numTokens() - n) + " more tokens");
        return t;
    }

    @Override
    public String toString() { return table().toString(); }
}
