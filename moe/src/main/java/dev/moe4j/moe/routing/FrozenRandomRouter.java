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
 * The router of SMoE-Dropout (Chen et al., "Sparse MoE as the New Dropout: Scaling Dense and
 * Self-Slimmable Transformers"): a randomly initialised router that is never trained, with a number
 * of active experts k that can change while the layer trains (raised step by step by an
 * {@link ActiveExpertSchedule}) and at inference (fewer experts for less compute, the
 * "self-slimmable" model).
 * <pre>
 *   logits = x W^T           W [E, d] drawn once, normal(0, initStd), then frozen (a buffer, no gradient)
 *   ids    = top-k(logits)   with the current k
 *   weights = softmax over the k selected logits
 * </pre>
 * Because W is fixed, token-to-expert assignment is a fixed random partition of the input space,
 * which needs no balance loss and cannot collapse. The gate weights still depend on x, so the
 * gradient reaches the layer input. Buffer {@code weight} [E, d] (saved in the state dict).
 *
 * <p>On a CUDA device (after {@code to(device)}, which moves the buffer) gating and the plan run
 * there, as for {@link SoftmaxTopKRouter}.
 */
public final class FrozenRandomRouter extends Router {
    private final int hiddenSize, numExperts;
    private final Tensor weight;
    private int k;

    /**
     * @param hiddenSize d
     * @param numExperts E
     * @param k          the initial number of active experts, 1 &lt;= k &lt;= E
     * @param dtype      weight dtype (the input's dtype)
     * @param gen        source of the fixed weights
     * @param initStd    standard deviation of the fixed weights, &gt; 0
     * @throws IllegalArgumentException for E &lt; 1, d &lt; 1, k outside [1, E] or initStd &lt;= 0
     */
    public FrozenRandomRouter(int hiddenSize, int numExperts, int k, DType dtype, Generator gen, double initStd) {
        checkSizes(hiddenSize, numExperts, k);
        if (!(initStd > 0) || Double.isInfinite(initStd)) throw new IllegalArgumentException("initStd must be finite and > 0, got " + initStd);
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.k = k;
        this.weight = registerBuffer("weight", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize));
    }

    /** The fixed W [E, d]. */
    public Tensor weight() { return weight; }

    /** The current number of active experts k. */
    public int activeExperts() { return k; }

    /**
     * Sets the number of active experts for the following calls.
     *
     * @throws IllegalArgumentException for k outside [1, E]
     */
    public void setActiveExperts(int k) {
        if (k < 1 || k > numExperts) throw new IllegalArgumentException("active experts must lie in [1, E = " + numExperts + "], got " + k);
        this.k = k;
    }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return k; }
    @Override public int hiddenSize() { return hiddenSize; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        int kNow = k;
        Tensor logits = F.linear(x, weight.dtype() == x.dtype() ? weight : weight.to(x.dtype()), null);
        Gate gate = new Gate(GatingConfig.softmaxTopK(kNow, true).withRejectNaN(failOnNaN), null);
        Tensor w = gate.apply(logits);
        return tokenChoice("frozen random top-" + kNow + " (SMoE-Dropout)", gate, w, logits, null, x.size(0), kNow, numExperts,
                Capacity.unlimited());
    }

    @Override
    protected String describe() { return "d=" + hiddenSize + ", E=" + numExperts + ", k=" + k + ", frozen"; }
}
