package dev.moe4j.moe.routing;

/**
 * SMoE-Dropout's schedule of active experts (Chen et al., "Sparse MoE as the New Dropout: Scaling
 * Dense and Self-Slimmable Transformers"): training starts with few active experts per token and
 * raises k progressively, so that the experts first learn apart and end up used together.
 * <pre>
 *   k(step) = kStart + floor((kEnd - kStart + 1) * step / totalSteps),  clamped to [kStart, kEnd]
 * </pre>
 * The steps 0 .. totalSteps-1 split into kEnd - kStart + 1 equal stages, one per value of k; from
 * totalSteps on, k stays at kEnd. {@link #apply} sets a {@link FrozenRandomRouter}'s k.
 *
 * @param kStart     k at step 0, &gt;= 1
 * @param kEnd       k at the end, &gt;= kStart
 * @param totalSteps steps over which k rises, &gt;= 1
 */
public record ActiveExpertSchedule(int kStart, int kEnd, long totalSteps) {

    /** @throws IllegalArgumentException for kStart &lt; 1, kEnd &lt; kStart or totalSteps &lt; 1 */
    public ActiveExpertSchedule {
        if (kStart < 1 || kEnd < kStart) throw new IllegalArgumentException("need 1 <= kStart <= kEnd, got kStart = " + kStart + ", kEnd = " + kEnd);
        if (totalSteps < 1) throw new IllegalArgumentException("totalSteps must be >= 1, got " + totalSteps);
    }

    /**
     * k at a training step.
     *
     * @throws IllegalArgumentException for a negative step
     */
    public int k(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        if (step >= totalSteps) return kEnd;
        long stages = kEnd - kStart + 1L;
        return (int) Math.min(kEnd, kStart + stages * step / totalSteps);
    }

    /**
     * Sets the router's k for this step and returns it.
     *
     * @throws IllegalArgumentException when k exceeds the router's experts
     */
    public int apply(FrozenRandomRouter router, long step) {
        int k = k(step);
        router.setActiveExperts(k);
        return k;
    }
}
