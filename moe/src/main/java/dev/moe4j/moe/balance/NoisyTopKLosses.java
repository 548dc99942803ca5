package dev.moe4j.moe.balance;

import dev.moe4j.autograd.F;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.Softplus;
import dev.moe4j.moe.ops.TensorArrays;
import dev.moe4j.moe.routing.NoisyTopKRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * The two balancing losses of noisy top-k gating (Shazeer et al., "Outrageously Large Neural
 * Networks: The Sparsely-Gated Mixture-of-Experts Layer", appendix A), for {@link NoisyTopKRouter}.
 *
 * <p>Importance loss: how much gate weight each expert receives over the batch should be even.
 * <pre>
 *   G [T, E]        the gate weights, zero outside each token's k experts
 *   Importance_e  = sum_t G[t, e]
 *   L_importance  = CV(Importance)^2 = Var(Importance) / (Mean(Importance)^2 + 1e-10)   (population variance)
 * </pre>
 * Load loss: how many tokens each expert receives should be even; the count is not differentiable,
 * so it is replaced by its expectation under the router noise. With clean logits c = x W_g, noise
 * scale s = softplus(x W_noise) and noisy logits H = c + eps * s of one forward:
 * <pre>
 *   P[t, e] = Pr( c[t, e] + eps' s[t, e]  &gt;  kth_excluding(H[t], k, e) ),  eps' ~ N(0, 1) drawn anew
 *           = Phi( (c[t, e] - kth_excluding(H[t], k, e)) / s[t, e] )
 *   kth_excluding(H[t], k, e) = the k-th largest of H[t] without entry e
 *                             = the (k+1)-th largest of H[t] when e is among the top k, else the k-th largest
 *   Load_e = sum_t P[t, e],     L_load = CV(Load)^2
 * </pre>
 * P is the chance that expert e stays in the top k when only its own noise is drawn again, so Load
 * is a smooth estimate of the expected token count, differentiable in W_g and W_noise (through c,
 * s and the thresholds). It needs E &gt; k. The paper scales both losses by hand-tuned weights
 * (w_importance, w_load) before adding them to the training loss.
 *
 * <p>On a CUDA device both losses are composed of device ops (the expert ids of the routing are
 * uploaded for the scatter of the gate weights; {@link NormalCdf} has a device branch).
 */
public final class NoisyTopKLosses {
    private NoisyTopKLosses() {}

    /** Added to the squared mean in the CV^2 denominator, as in the paper's code. */
    public static final double CV_EPS = 1e-10;

    /**
     * CV^2 of a vector: population variance over squared mean (plus {@link #CV_EPS}); 0 for one element.
     *
     * @param v [E]
     * @return a 0-dim tensor
     */
    public static Tensor cvSquared(Tensor v) {
        if (v.rank() != 1) throw new IllegalArgumentException("CV^2 needs a vector [E], got " + Shape.str(v.shape()));
        if (v.size(0) <= 1) return F.mul(F.sum(v), 0.0);
        Tensor mean = F.mean(v);
        return F.div(F.var(v, new int[] {0}, 0, false), F.add(F.square(mean), CV_EPS));
    }

    /**
     * Importance per expert: the gate weights summed over the tokens.
     *
     * @param routing a routing with gate weights [T, k] (in the graph) over E experts
     * @return [E]
     */
    public static Tensor importance(Routing routing) {
        int T = routing.numTokens(), k = routing.topK(), E = routing.numExperts();
        Tensor w = routing.weights();
        long[] idx = new long[T * k];
        int[] ids = routing.expertIds();
        for (int p = 0; p < idx.length; p++) idx[p] = ids[p];
        Tensor gates = F.scatterAdd(Tensor.zeros(w.dtype(), w.device(), T, E), 1, Tensor.of(idx, T, k).to(w.device()), w);
        return F.sum(gates, 0, false);
    }

    /** The importance loss CV(Importance)^2 of a routing (0-dim). */
    public static Tensor importanceLoss(Routing routing) { return cvSquared(importance(routing)); }

    /**
     * The smooth load estimate from the three logit tensors of one noisy forward.
     *
     * @param clean    [T, E] clean logits x W_g
     * @param noisy    [T, E] noisy logits H (the ones the top-k was taken on)
     * @param noiseStd [T, E] noise scale softplus(x W_noise), &gt; 0
     * @param k        experts per token, k &lt; E
     * @return Load [E]
     * @throws IllegalArgumentException for differing shapes or k outside [1, E - 1]
     */
    public static Tensor load(Tensor clean, Tensor noisy, Tensor noiseStd, int k) {
        if (clean.rank() != 2 || !Arrays.equals(clean.shape(), noisy.shape()) || !Arrays.equals(clean.shape(), noiseStd.shape())) {
            throw new IllegalArgumentException("noisy top-k load: clean, noisy and noise std must all be [T, E], got " + Shape.str(clean.shape()) + ", "
                    + Shape.str(noisy.shape()) + ", " + Shape.str(noiseStd.shape()));
        }
        int T = clean.size(0), E = clean.size(1);
        if (k < 1 || k >= E) throw new IllegalArgumentException("the smooth load needs 1 <= k < E; got k = " + k + ", E = " + E);
        if (T == 0) return F.sum(clean, 0, false);
        Tensor top = F.topk(noisy, k + 1, 1, true).values();             // [T, k+1], descending
        Tensor thresholdIn = F.narrow(top, 1, k, 1);                      // (k+1)-th largest [T, 1]
        Tensor thresholdOut = F.narrow(top, 1, k - 1, 1);                 // k-th largest     [T, 1]
        Tensor isIn = noisy.detach().gt(thresholdIn.detach());           // [T, E] BOOL: e is in the top k
        Tensor probIn = new NormalCdf().apply(F.div(F.sub(clean, thresholdIn), noiseStd));
        Tensor probOut = new NormalCdf().apply(F.div(F.sub(clean, thresholdOut), noiseStd));
        return F.sum(F.where(isIn, probIn, probOut), 0, false);
    }

    /**
     * The smooth load of a routing just made by a noisy top-k router in training mode: recomputes the
     * clean logits and the noise scale from the router's weights and x, and takes the noisy logits
     * from the routing. In evaluation mode (no noise) the load is the hard count of tokens per expert,
     * a constant.
     *
     * @param router  the router that made the routing, in the mode it routed in
     * @param x       [T, d] the tokens it routed
     * @param routing its routing of x
     * @return Load [E]
     * @throws IllegalArgumentException when the routing does not belong to x, or E = k in training
     */
    public static Tensor load(NoisyTopKRouter router, Tensor x, Routing routing) {
        if (x.rank() != 2 || x.size(0) != routing.numTokens()) {
            throw new IllegalArgumentException("noisy top-k load: x " + Shape.str(x.shape()) + " does not hold the T = " + routing.numTokens() + " routed tokens");
        }
        if (!router.isTraining()) {
            double[] count = new double[routing.numExperts()];
            int[] load = routing.load();
            for (int e = 0; e < count.length; e++) count[e] = load[e];
            return TensorArrays.wrap(count, count.length).to(x.dtype() == DType.F64 ? DType.F64 : DType.F32).to(x.device());
        }
        Tensor clean = F.linear(x, router.weight(), null);
        Tensor std = new Softplus().apply(F.linear(x, router.noiseWeight(), null));
        return load(clean, routing.logits(), std, routing.topK());
    }

    /** The load loss CV(Load)^2 of a routing just made by the router (see {@link #load(NoisyTopKRouter, Tensor, Routing)}). */
    public static Tensor loadLoss(NoisyTopKRouter router, Tensor x, Routing routing) { return cvSquared(load(router, x, routing)); }
}
