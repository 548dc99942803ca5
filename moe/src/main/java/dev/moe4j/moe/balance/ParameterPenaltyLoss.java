package dev.moe4j.moe.balance;

import dev.moe4j.autograd.F;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.TensorArrays;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * HMoE's parameter penalty loss (Wang et al., "HMoE: Heterogeneous Mixture of Experts for Language
 * Modeling"): the Switch load-balancing loss with each expert's token fraction weighed by its size
 * relative to the mean, so that the router is pushed away from large experts and towards small ones
 * rather than towards a uniform load.
 * <pre>
 *   probs [T, E] router probabilities (part of the graph), ids [T, k] chosen experts (constants)
 *   f_e  = (1/T) #{tokens that chose e}                 fraction of tokens
 *   P_e  = (1/T) sum_t probs[t, e]                       mean router probability
 *   s_e  = parameters of expert e,  s_mean = (1/E) sum_e s_e
 *   loss = E * sum_e (s_e / s_mean) f_e P_e
 * </pre>
 * With equal sizes it is exactly the Switch loss ({@link BalanceLosses#switchLoadBalancing}). Its
 * gradient, {@code dloss/dprobs[t, e] = E s_e f_e / (s_mean T)}, grows with both how often and how
 * large an expert is, so lowering it moves probability to the small, rarely used experts: fewer
 * activated parameters per token, which is HMoE's aim.
 *
 * <p>On a CUDA device the per-expert factors (from the host ids) are uploaded, and for BF16
 * probabilities the weighted sum is taken in F32 and the result cast back.
 */
public final class ParameterPenaltyLoss {
    private ParameterPenaltyLoss() {}

    /**
     * The loss on router probabilities.
     *
     * @param probs      [T, E] router probabilities
     * @param expertIds  [T * k] chosen experts (-1, or any id outside [0, E), marks a slot that counts for none)
     * @param k          slots per token
     * @param expertSize [E] parameter count (or any size measure) of each expert, all &gt; 0
     * @return a 0-dim tensor of the probs' dtype
     * @throws IllegalArgumentException for mismatched shapes or a size that is not positive
     */
    public static Tensor compute(Tensor probs, int[] expertIds, int k, double[] expertSize) {
        if (probs.rank() != 2) throw new IllegalArgumentException("parameter penalty: probs must be [T, E], got " + Shape.str(probs.shape()));
        int T = probs.size(0), E = probs.size(1);
        if (k < 1 || expertIds.length != T * k) {
            throw new IllegalArgumentException("parameter penalty: " + expertIds.length + " expert ids for T = " + T + " tokens and k = " + k);
        }
        if (expertSize.length != E) throw new IllegalArgumentException("parameter penalty: " + expertSize.length + " expert sizes for E = " + E + " experts");
        double mean = 0;
        for (int e = 0; e < E; e++) {
            if (!(expertSize[e] > 0) || Double.isInfinite(expertSize[e])) throw new IllegalArgumentException("parameter penalty: expert " + e + " has size " + expertSize[e]);
            mean += expertSize[e] / E;
        }
        if (T == 0) return F.mul(F.sum(probs), 0.0);
        double[] c = new double[E];
        for (int id : expertIds) if (id >= 0 && id < E) c[id] += 1.0 / T;
        for (int e = 0; e < E; e++) c[e] *= E * expertSize[e] / mean;
        Tensor meanProb = F.mean(probs, 0, false);
        DType compute = probs.dtype() == DType.F64 ? DType.F64 : DType.F32;
        Tensor factors = TensorArrays.wrap(c, E).to(compute).to(probs.device());
        Tensor loss = F.sum(F.mul(meanProb.dtype() == compute ? meanProb : F.to(meanProb, compute), factors));
        return loss.dtype() == probs.dtype() ? loss : F.to(loss, probs.dtype());
    }

    /**
     * The loss of a routing: softmax of its logits, its chosen (selected, real) experts.
     *
     * @param routing    a routing with logits [T, E] (E real experts, no null experts)
     * @param expertSize [E] parameter count of each expert
     * @throws IllegalArgumentException when the routing has no logits, or logits wider than E
     */
    public static Tensor of(Routing routing, double[] expertSize) {
        Tensor logits = routing.logits();
        if (logits == null) throw new IllegalArgumentException("parameter penalty: router '" + routing.router() + "' gives no logits");
        if (logits.size(1) != routing.numExperts()) {
            throw new IllegalArgumentException("parameter penalty: logits " + Shape.str(logits.shape()) + " cover more than the E = " + routing.numExperts() + " real experts");
        }
        int[] ids = routing.expertIds().clone();
        for (int p = 0; p < ids.length; p++) if (!routing.isSelected(p)) ids[p] = -1;
        return compute(F.softmax(logits, -1), ids, routing.topK(), expertSize);
    }
}
