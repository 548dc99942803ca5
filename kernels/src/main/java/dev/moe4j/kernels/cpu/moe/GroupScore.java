package dev.moe4j.kernels.cpu.moe;

/**
 * How group-limited routing ranks a group of experts from the (biased) selection scores of its members.
 *
 * <p>The E experts are cut into {@code nGroup} consecutive groups of {@code E / nGroup}; each group gets
 * one number by this rule, the best {@code topkGroup} groups stay eligible and the experts of all other
 * groups are masked before the per-token top-k.
 */
public enum GroupScore {
    /** The best selection score in the group (DeepSeek-V2, {@code topk_method = "group_limited_greedy"}). */
    MAX,
    /**
     * The sum of the two best selection scores in the group (DeepSeek-V3, {@code topk_method = "noaux_tc"}:
     * {@code scores_for_choice.view(-1, n_group, E / n_group).topk(2)[0].sum(-1)}). Needs groups of at least
     * two experts.
     */
    SUM_TOP2
}
