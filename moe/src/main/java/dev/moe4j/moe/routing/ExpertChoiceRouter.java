package dev.moe4j.moe.routing;

import dev.moe4j.autograd.F;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.ParameterInit;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Expert-choice routing (Zhou et al., "Mixture-of-Experts with Expert Choice Routing"): instead of
 * tokens choosing experts, each expert chooses its top-c tokens. With scores
 * S = softmax(x W^T) [T, E] over the experts, expert e takes the c tokens of highest S[:, e]
 * (ties: lower token first), with {@code c = ceil(T * capacityFactor / E)} (at most T); the gate
 * weight of (token t, expert e) is S[t, e]. A token may be taken by several experts or by none;
 * every expert is exactly full, so the load is balanced by construction.
 *
 * <p>As a routing plan: k = E slots per token, slot j of token t names expert j, weights [T, E] = S;
 * each expert keeps its c pairs of highest weight ({@link DropPolicy#BY_SCORE}) and all other pairs
 * are dropped. Parameter {@code weight} [E, d].
 */
public final class ExpertChoiceRouter extends Router {
    private final int hiddenSize, numExperts;
    private final double capacityFactor;
    private final Tensor weight;

    /**
     * @param hiddenSize     d
     * @param numExperts     E
     * @param capacityFactor c = T * capacityFactor / E tokens per expert; {@code > 0}
     * @param dtype          parameter dtype
     * @param gen            source of the initial weights
     * @param initStd        standard deviation of the initial weights
     * @throws IllegalArgumentException for E &lt; 1, d &lt; 1 or a capacity factor that is not positive
     */
    public ExpertChoiceRouter(int hiddenSize, int numExperts, double capacityFactor, DType dtype, Generator gen, double initStd) {
        checkSizes(hiddenSize, numExperts, 1);
        if (!(capacityFactor > 0) || Double.isInfinite(capacityFactor)) {
            throw new IllegalArgumentException("expert-choice capacity factor must be positive and finite, got " + capacityFactor);
        }
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.capacityFactor = capacityFactor;
        this.weight = registerParameter("weight", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize));
    }

    /** Tokens each expert takes from a batch of T tokens: {@code min(T, ceil(T * capacityFactor / E))}. */
    public int tokensPerExpert(int numTokens) {
        return (int) Math.min(numTokens, Math.ceil(numTokens * capacityFactor / numExperts));
    }

    /** W [E, d]. */
    public Tensor weight() { return weight; }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return numExperts; }
    @Override public int hiddenSize() { return hiddenSize; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        int T = x.size(0), E = numExperts;
        Tensor logits = F.linear(x, weight, null);
        if (failOnNaN) {
            double[] l = logits.cpu().toDoubleArray();
            for (int i = 0; i < l.length; i++) {
                if (Double.isNaN(l[i])) throw new IllegalArgumentException("router logit is NaN at token " + i / E + ", expert " + i % E);
            }
        }
        Tensor probs = F.softmax(logits, 1);
        int[] ids = new int[T * E];
        for (int t = 0; t < T; t++) for (int e = 0; e < E; e++) ids[t * E + e] = e;
        int c = tokensPerExpert(T);
        var plan = Plans.build(ids, null, probs.cpu().toDoubleArray(), T, E, E, Capacity.fixed(c, DropPolicy.BY_SCORE, 0));
        return new Routing("expert choice (" + c + " tokens per expert)", plan, ids, null, probs, logits, probs.detach(), null, 0);
    }

    @Override
    protected String describe() { return "d=" + hiddenSize + ", E=" + numExperts + ", capacity factor=" + capacityFactor; }
}
