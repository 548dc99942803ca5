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
 * Routing with null experts (Zeng et al., "AdaMoE: Token-Adaptive Routing with Null Experts for
 * Mixture-of-Experts Language Models"): the router scores E real experts plus N null experts, which
 * output zero and cost nothing; a token choosing some null experts among its top-k uses fewer real
 * experts, so the number of real experts per token adapts.
 *
 * <p>Logits = x W^T with W [E + N, d]; softmax over all E + N; top-k; weights renormalised over the k
 * chosen (null experts included) when {@code renormalize}, otherwise the plain probabilities. Pairs
 * sent to a null expert (ids E .. E+N-1) are not computed: the plan covers the E real experts and
 * lists them among its uncomputed pairs. Parameter {@code weight} [E + N, d]. A balance loss over
 * the router probabilities (e.g. {@link dev.moe4j.moe.balance.BalanceLosses#switchLoadBalancing})
 * treats null experts like the others.
 */
public final class NullExpertRouter extends Router {
    private final int hiddenSize, numExperts, numNull, k;
    private final boolean renormalize;
    private final Tensor weight;

    /**
     * @param hiddenSize  d
     * @param numExperts  E real experts
     * @param numNull     N null experts, {@code >= 1}
     * @param k           slots per token, 1 &lt;= k &lt;= E + N
     * @param renormalize renormalise the k weights
     * @param dtype       parameter dtype
     * @param gen         source of the initial weights
     * @param initStd     standard deviation of the initial weights
     * @throws IllegalArgumentException for bad sizes
     */
    public NullExpertRouter(int hiddenSize, int numExperts, int numNull, int k, boolean renormalize, DType dtype, Generator gen, double initStd) {
        if (numNull < 1) throw new IllegalArgumentException("the number of null experts must be >= 1, got " + numNull);
        if (numExperts < 1) throw new IllegalArgumentException("the number of experts E must be >= 1, got " + numExperts);
        checkSizes(hiddenSize, numExperts + numNull, k);
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.numNull = numNull;
        this.k = k;
        this.renormalize = renormalize;
        this.weight = registerParameter("weight", ParameterInit.normal(gen, dtype, initStd, numExperts + numNull, hiddenSize));
    }

    /** W [E + N, d]. */
    public Tensor weight() { return weight; }

    /** N, the number of null experts. */
    public int numNullExperts() { return numNull; }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return k; }
    @Override public int hiddenSize() { return hiddenSize; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        int T = x.size(0);
        Tensor logits = F.linear(x, weight, null);
        Gate gate = new Gate(GatingConfig.softmaxTopK(k, renormalize).withRejectNaN(failOnNaN), null);
        Tensor w = gate.apply(logits);
        int[] ids = gate.ids();
        boolean[] real = new boolean[ids.length];
        for (int p = 0; p < ids.length; p++) real[p] = ids[p] < numExperts;
        var plan = Plans.build(ids, real, null, T, k, numExperts, Capacity.unlimited());
        return new Routing("top-" + k + " with " + numNull + " null experts", plan, ids, null, w, logits, gate.scores(), null, numNull);
    }

    @Override
    protected String describe() { return "d=" + hiddenSize + ", E=" + numExperts + " + " + numNull + " null, k=" + k + ", renormalize=" + renormalize; }
}
