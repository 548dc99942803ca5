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
 * Softmax top-k token-choice routing: logits = x W^T, scores = softmax over the E experts, each
 * token takes its k best experts; gate weights are the k scores, renormalised to sum to 1 (Mixtral
 * of Experts) or left as they are (Qwen2-MoE, {@code norm_topk_prob = false}).
 *
 * <p>Parameter {@code weight} [E, d] (Hugging Face {@code gate.weight}). Optional: an expert
 * {@link Capacity}, and a selection bias buffer {@code e_score_correction_bias} [E] added to the
 * scores for the choice only (Auxiliary-Loss-Free Load Balancing), updated by
 * {@link dev.moe4j.moe.balance.LossFreeBalancer}.
 */
public final class SoftmaxTopKRouter extends Router {
    private final int hiddenSize, numExperts, k;
    private final boolean renormalize;
    private final Capacity capacity;
    private final Tensor weight, bias;

    /**
     * @param hiddenSize    d
     * @param numExperts    E
     * @param k             experts per token, 1 &lt;= k &lt;= E
     * @param renormalize   renormalise the k weights (Mixtral) or not (Qwen2-MoE)
     * @param capacity      expert capacity ({@link Capacity#unlimited()} for none)
     * @param selectionBias whether to hold a selection bias buffer
     * @param dtype         parameter dtype (F32 or F64)
     * @param gen           source of the initial weights (normal, std {@code initStd})
     * @param initStd       standard deviation of the initial weights
     * @throws IllegalArgumentException for E &lt; 1, k outside [1, E] or d &lt; 1
     */
    public SoftmaxTopKRouter(int hiddenSize, int numExperts, int k, boolean renormalize, Capacity capacity, boolean selectionBias,
                             DType dtype, Generator gen, double initStd) {
        checkSizes(hiddenSize, numExperts, k);
        if (capacity == null) throw new IllegalArgumentException("capacity is null; use Capacity.unlimited()");
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.k = k;
        this.renormalize = renormalize;
        this.capacity = capacity;
        this.weight = registerParameter("weight", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize));
        this.bias = selectionBias ? registerBuffer("e_score_correction_bias", Tensor.zeros(DType.F32, numExperts)) : null;
    }

    /** W [E, d]. */
    public Tensor weight() { return weight; }

    /** The expert capacity. */
    public Capacity capacity() { return capacity; }

    /** Whether the k weights are renormalised. */
    public boolean renormalizes() { return renormalize; }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return k; }
    @Override public int hiddenSize() { return hiddenSize; }
    @Override public Tensor selectionBias() { return bias; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        Tensor logits = F.linear(x, weight, null);
        Gate gate = new Gate(GatingConfig.softmaxTopK(k, renormalize).withRejectNaN(failOnNaN), biasValues(bias));
        Tensor w = gate.apply(logits);
        return tokenChoice(renormalize ? "softmax top-" + k + " (renormalised)" : "softmax top-" + k, gate, w, logits,
                biasValues(bias), x.size(0), k, numExperts, capacity);
    }

    @Override
    protected String describe() {
        return "d=" + hiddenSize + ", E=" + numExperts + ", k=" + k + ", renormalize=" + renormalize + ", capacity=" + capacity
                + (bias != null ? ", selection bias" : "");
    }
}
