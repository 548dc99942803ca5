package dev.moe4j.moe.routing;

import dev.moe4j.autograd.F;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.Gate;
import dev.moe4j.moe.ops.ParameterInit;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * DeepSeek-V3 routing (as Hugging Face {@code DeepseekV3TopkRouter}): sigmoid scores
 * s = sigmoid(x W^T); selection on s + b where b is the score-correction bias
 * ({@code e_score_correction_bias}, the auxiliary-loss-free balancing bias), limited to the best
 * {@code topkGroup} of {@code nGroup} groups of experts, each group ranked by the sum of its two best
 * biased scores (experts of the other groups get selection score 0); gate weights from the unbiased
 * scores, renormalised ({@code norm_topk_prob}, epsilon 1e-20) and times the
 * {@code routed_scaling_factor}.
 *
 * <p>Papers: DeepSeek-V3 Technical Report; Auxiliary-Loss-Free Load Balancing Strategy for
 * Mixture-of-Experts. Parameter {@code weight} [E, d]; buffer {@code e_score_correction_bias} [E]
 * (F32), updated outside the gradient by {@link dev.moe4j.moe.balance.LossFreeBalancer}.
 */
public final class DeepSeekV3Router extends Router {
    private final int hiddenSize, numExperts, k, nGroup, topkGroup;
    private final boolean normTopkProb;
    private final double scalingFactor;
    private final Tensor weight, bias;

    /**
     * @param hiddenSize    d
     * @param numExperts    E (divisible by nGroup)
     * @param k             experts per token
     * @param nGroup        expert groups (1: no group limit)
     * @param topkGroup     groups kept per token, 1 &lt;= topkGroup &lt;= nGroup
     * @param normTopkProb  renormalise the k weights
     * @param scalingFactor routed scaling factor (finite)
     * @param dtype         parameter dtype
     * @param gen           source of the initial weights
     * @param initStd       standard deviation of the initial weights
     * @throws IllegalArgumentException for inconsistent sizes (k &gt; E, E not divisible by nGroup, ...)
     */
    public DeepSeekV3Router(int hiddenSize, int numExperts, int k, int nGroup, int topkGroup, boolean normTopkProb, double scalingFactor,
                            DType dtype, Generator gen, double initStd) {
        checkSizes(hiddenSize, numExperts, k);
        config(k, nGroup, topkGroup, normTopkProb, scalingFactor).validate(numExperts);
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.k = k;
        this.nGroup = nGroup;
        this.topkGroup = topkGroup;
        this.normTopkProb = normTopkProb;
        this.scalingFactor = scalingFactor;
        this.weight = registerParameter("weight", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize));
        this.bias = registerBuffer("e_score_correction_bias", Tensor.zeros(DType.F32, numExperts));
    }

    private static GatingConfig config(int k, int nGroup, int topkGroup, boolean norm, double scale) {
        return GatingConfig.deepseekV3(k, nGroup, topkGroup, norm, (float) scale);
    }

    /** W [E, d]. */
    public Tensor weight() { return weight; }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return k; }
    @Override public int hiddenSize() { return hiddenSize; }
    @Override public Tensor selectionBias() { return bias; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        Tensor logits = F.linear(x, weight, null);
        double[] b = biasValues(bias);
        Gate gate = new Gate(config(k, nGroup, topkGroup, normTopkProb, scalingFactor).withRejectNaN(failOnNaN), b);
        Tensor w = gate.apply(logits);
        return tokenChoice("DeepSeek-V3 sigmoid top-" + k + " (groups " + topkGroup + "/" + nGroup + ")", gate, w, logits, b,
                x.size(0), k, numExperts, Capacity.unlimited());
    }

    @Override
    protected String describe() {
        return "d=" + hiddenSize + ", E=" + numExperts + ", k=" + k + ", n_group=" + nGroup + ", topk_group=" + topkGroup
                + ", norm_topk_prob=" + normTopkProb + ", routed_scaling_factor=" + scalingFactor;
    }
}
