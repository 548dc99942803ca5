package dev.moe4j.kernels.cpu.moe;

/**
 * Which (token, slot) pairs an expert keeps when more than its capacity C are routed to it.
 */
public enum DropPolicy {
    /**
     * Keep the first C pairs in pair order {@code p = token * k + slot} (token order, then slot), drop the rest:
     * what Switch Transformers does with its cumulative-sum position inside each expert.
     */
    BY_POSITION,
    /**
     * Keep the C pairs with the highest gate weight; equal weights are ranked by pair order (lower
     * {@code token * k + slot} first). The kept pairs stay in pair order inside the expert's rows.
     */
    BY_SCORE
}
