package dev.moe4j.kernels.cpu.moe;

import java.util.Objects;

/**
 * Everything that decides how token-choice gating turns router logits [T, E] into k gate weights and k
 * expert ids per token (see {@link Gating} for the algorithm).
 *
 * @param scoreFunction softmax over the experts or an element-wise sigmoid
 * @param k             experts per token (top-k), {@code 1 <= k <= E}
 * @param nGroup        number of expert groups for group-limited selection; 1 turns group limiting off
 * @param topkGroup     groups kept per token, {@code 1 <= topkGroup <= nGroup} (1 when {@code nGroup} is 1)
 * @param groupScore    how a group is ranked (ignored when {@code nGroup} is 1)
 * @param maskedScore   the selection score given to the experts of the groups that were not kept:
 *                      {@link Float#NEGATIVE_INFINITY} (they are never chosen; DeepSeek's own inference
 *                      code) or {@code 0.0f} (Hugging Face {@code DeepseekV3TopkRouter}, which fills them
 *                      with 0 so they can still beat negative biased scores). Not NaN.
 * @param renormalize   divide the k selected scores by their sum (plus {@code renormEps})
 * @param renormEps     added to the denominator of the renormalisation: 0 for Mixtral, 1e-20 for DeepSeek-V3;
 *                      finite and {@code >= 0}
 * @param scale         multiplies every gate weight at the end ({@code routed_scaling_factor}); finite
 * @param rejectNaN     scan the logits first and throw {@link IllegalArgumentException} naming the first
 *                      NaN's token and expert, before any output is written
 */
public record GatingConfig(
        ScoreFunction scoreFunction,
        int k,
        int nGroup,
        int topkGroup,
        GroupScore groupScore,
        float maskedScore,
        boolean renormalize,
        float renormEps,
        float scale,
        boolean rejectNaN) {

    /**
     * Validates the parts that do not depend on the number of experts.
     *
     * @throws IllegalArgumentException naming the offending value
     */
    public GatingConfig {
        Objects.requireNonNull(scoreFunction, "scoreFunction");
        Objects.requireNonNull(groupScore, "groupScore");
        if (k < 1) throw new IllegalArgumentException("k must be >= 1, got " + k);
        if (nGroup < 1) throw new IllegalArgumentException("nGroup must be >= 1, got " + nGroup);
        if (topkGroup < 1 || topkGroup > nGroup) {
            throw new IllegalArgumentException("topkGroup must be in [1, nGroup = " + nGroup + "], got " + topkGroup);
        }
        if (Float.isNaN(maskedScore)) throw new IllegalArgumentException("maskedScore must not be NaN");
        if (!(renormEps >= 0) || Float.isInfinite(renormEps)) {
            throw new IllegalArgumentException("renormEps must be finite and >= 0, got " + renormEps);
        }
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("scale must be finite, got " + scale);
    }

    /**
     * Mixtral: softmax over all experts, top-k, weights renormalised to sum to 1 (no epsilon), no scaling.
     * Rejects NaN logits.
     */
    public static GatingConfig mixtral(int k) {
        return softmaxTopK(k, true);
    }

    /**
     * Softmax over all experts and top-k, with or without renormalisation (epsilon 0) and no scaling:
     * Qwen2-MoE ({@code norm_topk_prob}), and with {@code k = 1, renormalize = false} the Switch router
     * (the gate weight is the winning probability). Rejects NaN logits.
     */
    public static GatingConfig softmaxTopK(int k, boolean renormalize) {
        return new GatingConfig(ScoreFunction.SOFTMAX, k, 1, 1, GroupScore.SUM_TOP2, Float.NEGATIVE_INFINITY,
                renormalize, 0f, 1f, true);
    }

    /**
     * DeepSeek-V3 as in Hugging Face {@code DeepseekV3TopkRouter}: sigmoid scores, selection on score + bias
     * limited to the best {@code topkGroup} of {@code nGroup} groups (each ranked by the sum of its two best
     * biased scores, experts of the other groups filled with 0), weights from the unbiased scores,
     * renormalised with epsilon 1e-20 when {@code normTopkProb}, then times {@code routedScalingFactor}.
     * Rejects NaN logits.
     */
    public static GatingConfig deepseekV3(int k, int nGroup, int topkGroup, boolean normTopkProb, float routedScalingFactor) {
        return new GatingConfig(ScoreFunction.SIGMOID, k, nGroup, topkGroup, GroupScore.SUM_TOP2, 0f,
                normTopkProb, 1e-20f, routedScalingFactor, true);
    }

    /** This configuration with {@link #rejectNaN} set as given. */
    public GatingConfig withRejectNaN(boolean reject) {
        return new GatingConfig(scoreFunction, k, nGroup, topkGroup, groupScore, maskedScore, renormalize, renormEps, scale, reject);
    }

    /** This configuration with another masked-group score ({@link Float#NEGATIVE_INFINITY} or a finite value). */
    public GatingConfig withMaskedScore(float score) {
        return new GatingConfig(scoreFunction, k, nGroup, topkGroup, groupScore, score, renormalize, renormEps, scale, rejectNaN);
    }

    /** Whether group-limited selection is on ({@code nGroup > 1}). */
    public boolean groupLimited() {
        return nGroup > 1;
    }

    /**
     * Checks this configuration against E experts.
     *
     * @throws IllegalArgumentException when {@code E < 1}, {@code k > E}, {@code E % nGroup != 0}, a group of
     *         one expert under {@link GroupScore#SUM_TOP2}, or fewer than k eligible experts when masked
     *         experts can never be chosen ({@code maskedScore = -inf} and {@code topkGroup * E / nGroup < k})
     */
    public void validate(int numExperts) {
        if (numExperts < 1) throw new IllegalArgumentException("number of experts E must be >= 1, got " + numExperts);
        if (k > numExperts) throw new IllegalArgumentException("k = " + k + " exceeds the number of experts E = " + numExperts);
        if (!groupLimited()) return;
        if (numExperts % nGroup != 0) {
            throw new IllegalArgumentException("E = " + numExperts + " is not divisible by nGroup = " + nGroup);
        }
        int groupSize = numExperts / nGroup;
        if (groupScore == GroupScore.SUM_TOP2 && groupSize < 2) {
            throw new IllegalArgumentException("group score SUM_TOP2 needs groups of >= 2 experts, E / nGroup = "
                    + numExperts + " / " + nGroup + " = " + groupSize);
        }
        if (maskedScore == Float.NEGATIVE_INFINITY && topkGroup * groupSize < k) {
            throw new IllegalArgumentException("k = " + k + " exceeds the experts in the kept groups: topkGroup * E / nGroup = "
                    + topkGroup + " * " + groupSize + " = " + topkGroup * groupSize);
        }
    }
}
