package dev.moe4j.kernels.cpu.moe;

/** Argument checks of the kernels that consume a {@link RoutingPlan}, run before any output is written. */
final class PlanChecks {
    private PlanChecks() {}

    static void plan(RoutingPlan plan, int d) {
        if (plan == null) throw new IllegalArgumentException("routing plan is null");
        if (d < 0) throw new IllegalArgumentException("row width d must be >= 0, got " + d);
        long big = (long) Math.max(plan.numTokens(), plan.numRows()) * d;
        if (big > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("max(T, R) * d = " + Math.max(plan.numTokens(), plan.numRows()) + " * " + d + " exceeds an array");
        }
    }

    /** An array of token rows [T, d]. */
    static void tokens(String name, int length, RoutingPlan plan, int d) {
        GatingChecks.require(name, length, (long) plan.numTokens() * d, "[T, d] = [" + plan.numTokens() + ", " + d + "]");
    }

    /** An array of permuted rows [R, d]. */
    static void rows(String name, int length, RoutingPlan plan, int d) {
        GatingChecks.require(name, length, (long) plan.numRows() * d, "[R, d] = [" + plan.numRows() + ", " + d + "]");
    }

    /** An array of per-pair values [T, k]. */
    static void pairs(String name, int length, RoutingPlan plan) {
        GatingChecks.require(name, length, plan.numPairs(), "[T, k] = [" + plan.numTokens() + ", " + plan.topK() + "]");
    }
}
