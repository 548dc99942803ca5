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
 * Dynamic top-p routing (Huang et al., "Harder Tasks Need More Experts: Dynamic Routing in MoE
 * Models"): with P = softmax(x W^T), each token takes experts in order of falling probability until
 * their cumulative probability reaches the threshold p, so confident tokens use few experts and
 * uncertain ones more (at most {@code maxExperts}). Gate weights are the probabilities themselves
 * (not renormalised).
 *
 * <p>As a routing plan: k = maxExperts slots per token in probability order; slot j is selected when
 * the probabilities of slots 0..j-1 sum to less than p (slot 0 always). Parameter {@code weight} [E, d].
 */
public final class TopPRouter extends Router {
    private final int hiddenSize, numExperts, maxExperts;
    private final double threshold;
    private final Tensor weight;

    /**
     * @param hiddenSize d
     * @param numExperts E
     * @param threshold  p in (0, 1]
     * @param maxExperts most experts per token, 1 &lt;= maxExperts &lt;= E
     * @param dtype      parameter dtype
     * @param gen        source of the initial weights
     * @param initStd    standard deviation of the initial weights
     * @throws IllegalArgumentException for E &lt; 1, d &lt; 1, maxExperts outside [1, E] or p outside (0, 1]
     */
    public TopPRouter(int hiddenSize, int numExperts, double threshold, int maxExperts, DType dtype, Generator gen, double initStd) {
        checkSizes(hiddenSize, numExperts, maxExperts);
        if (!(threshold > 0 && threshold <= 1)) throw new IllegalArgumentException("top-p threshold must lie in (0, 1], got " + threshold);
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.maxExperts = maxExperts;
        this.threshold = threshold;
        this.weight = registerParameter("weight", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize));
    }

    /** W [E, d]. */
    public Tensor weight() { return weight; }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return maxExperts; }
    @Override public int hiddenSize() { return hiddenSize; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        int T = x.size(0), k = maxExperts;
        Tensor logits = F.linear(x, weight, null);
        Gate gate = new Gate(GatingConfig.softmaxTopK(k, false).withRejectNaN(failOnNaN), null);
        Tensor w = gate.apply(logits);
        int[] ids = gate.ids();
        double[] p = w.cpu().toDoubleArray();
        boolean[] selected = new boolean[T * k];
        for (int t = 0; t < T; t++) {
            double cumulative = 0;
            for (int j = 0; j < k; j++) {
                selected[t * k + j] = j == 0 || cumulative < threshold;
                cumulative += p[t * k + j];
            }
        }
        var plan = Plans.build(ids, selected, null, T, k, numExperts, Capacity.unlimited());
        return new Routing("top-p (p=" + threshold + ")", plan, ids, selected, w, logits, gate.scores(), null, 0);
    }

    @Override
    protected String describe() { return "d=" + hiddenSize + ", E=" + numExperts + ", p=" + threshold + ", max experts=" + maxExperts; }
}
