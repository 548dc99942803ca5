package dev.moe4j.moe.routing;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;

/**
 * Expert capacity: the most (token, slot) pairs one expert processes per group of tokens, and which
 * pairs it keeps when more arrive (Switch Transformers: tokens over capacity skip the expert, the
 * layer passes them on with a zero routed output).
 *
 * <p>Tokens are cut into consecutive groups of {@code groupSize} tokens (0: all tokens form one
 * group); per group and expert the capacity is {@code fixed} when it is set, otherwise
 * {@code ceil(factor * groupTokens * k / E)} (Switch: tokens per batch / experts * capacity factor).
 * An infinite factor means no limit.
 *
 * @param factor    capacity factor, {@code >= 0} (may be {@link Double#POSITIVE_INFINITY}); ignored when
 *                  {@code fixed >= 0}
 * @param fixed     a capacity in pairs per expert and group, or -1 to use the factor
 * @param policy    which pairs an expert over capacity keeps: the first ones in token order
 *                  ({@link DropPolicy#BY_POSITION}) or those with the highest gate weight
 *                  ({@link DropPolicy#BY_SCORE})
 * @param groupSize tokens per capacity group, or 0 for one group of all tokens
 */
public record Capacity(double factor, int fixed, DropPolicy policy, int groupSize) {

    /**
     * @throws IllegalArgumentException for a negative or NaN factor, a negative capacity other than
     *         -1, a negative group size or a null policy
     */
    public Capacity {
        if (Double.isNaN(factor) || factor < 0) throw new IllegalArgumentException("capacity factor must be >= 0, got " + factor);
        if (fixed < -1) throw new IllegalArgumentException("expert capacity must be >= 0 (or -1 for a capacity from the factor), got " + fixed);
        if (groupSize < 0) throw new IllegalArgumentException("capacity group size must be >= 0 (0: one group), got " + groupSize);
        if (policy == null) throw new IllegalArgumentException("drop policy is null");
    }

    /** No capacity limit: every pair is processed. */
    public static Capacity unlimited() {
        return new Capacity(Double.POSITIVE_INFINITY, -1, DropPolicy.BY_POSITION, 0);
    }

    /** Capacity {@code ceil(factor * T * k / E)} over all tokens, dropping by position (Switch). */
    public static Capacity ofFactor(double factor) {
        return new Capacity(factor, -1, DropPolicy.BY_POSITION, 0);
    }

    /**
     * A fixed capacity per expert and group.
     *
     * @throws IllegalArgumentException for a negative capacity
     */
    public static Capacity fixed(int perExpert, DropPolicy policy, int groupSize) {
        if (perExpert < 0) throw new IllegalArgumentException("expert capacity must be >= 0, got " + perExpert);
        return new Capacity(Double.POSITIVE_INFINITY, perExpert, policy, groupSize);
    }

    /** This capacity with another drop policy. */
    public Capacity withPolicy(DropPolicy p) { return new Capacity(factor, fixed, p, groupSize); }

    /** This capacity with another group size (0: one group). */
    public Capacity withGroupSize(int size) { return new Capacity(factor, fixed, policy, size); }

    /** True when no pair is ever dropped. */
    public boolean isUnlimited() { return fixed < 0 && Double.isInfinite(factor); }

    /**
     * The capacity per expert for a group of {@code groupTokens} tokens with k slots each and E
     * experts, or {@link RoutingPlan#UNLIMITED}.
     */
    public int perExpert(int groupTokens, int k, int numExperts) {
        if (fixed >= 0) return fixed;
        if (Double.isInfinite(factor)) return RoutingPlan.UNLIMITED;
        double c = Math.ceil(factor * groupTokens * (double) k / numExperts);
        return (int) Math.min(c, (double) groupTokens * k);
    }

    @Override
    public String toString() {
        if (isUnlimited()) return "unlimited";
        String c = fixed >= 0 ? Integer.toString(fixed) : "factor " + factor;
        return c + ", " + policy + (groupSize > 0 ? ", groups of " + groupSize + " tokens" : "");
    }
}
