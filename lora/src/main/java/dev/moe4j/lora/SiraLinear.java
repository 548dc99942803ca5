package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * SiRA (Zhu et al. 2023, "SiRA: Sparse Mixture of Low Rank Adaptation"): a sparse top-k mixture of
 * LoRA experts with an expert capacity and expert dropout.
 * <pre>
 *   ids, w = top-k of softmax(x W_g^T), renormalised          (as {@link MixLoraLinear})
 *   capacity C = ceil(capacityFactor * T * k / N) pairs per expert; pairs over it are dropped
 *   in training: w = dropout(w, p_expert)                      expert dropout on the gate output
 *   y = x W^T + b + s * sum over kept pairs of w[t, j] B_e A_e x[t]
 * </pre>
 * Expert dropout zeroes each (token, slot) gate weight with probability p and scales the others by
 * 1 / (1 - p) (inverted dropout), so a token sometimes loses an expert it chose. The auxiliary loss
 * is the Switch load-balancing loss, as in the paper.
 */
public final class SiraLinear extends MixLoraLinear {
    private final double expertDropout;

    /**
     * @param base           the frozen layer
     * @param numExperts     N
     * @param topK           k
     * @param capacityFactor capacity factor &gt;= 0 (infinite: no capacity)
     * @param policy         which pairs an expert over capacity keeps (first in token order, or highest weight)
     * @param expertDropout  p of the gate-output dropout, in [0, 1)
     * @param spec           the experts' rank, alpha, dropout, initialisation
     * @param gen            source of initial values and masks
     * @throws IllegalArgumentException for a bad factor or dropout, and the cases of {@link MixLoraLinear}
     */
    public SiraLinear(Linear base, int numExperts, int topK, double capacityFactor, DropPolicy policy, double expertDropout,
                      AdapterSpec spec, Generator gen) {
        if (!(expertDropout >= 0 && expertDropout < 1)) throw new IllegalArgumentException("expert dropout must lie in [0, 1), got " + expertDropout);
        Capacity capacity = Double.isInfinite(capacityFactor) ? Capacity.unlimited() : Capacity.ofFactor(capacityFactor).withPolicy(policy);
        super(base, numExperts, topK, capacity, spec, gen);
        this.expertDropout = expertDropout;
    }

    /** p of the expert dropout. */
    public double expertDropout() { return expertDropout; }

    @Override
    protected Tensor gateWeights(Tensor weights) {
        return F.dropout(weights, expertDropout, training(), generator);
    }

    @Override
    protected String describe() { return super.describe() + ", expert dropout=" + expertDropout; }
}
