package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The Switch Transformers load-balancing auxiliary loss (Fedus et al., equations 4-6), with the
 * semantics of Hugging Face {@code load_balancing_loss_func(router_probs, expert_indices)}:
 * <pre>
 *   probs [G, S, E] (groups, tokens per group, experts), expert ids [G, S, k] (fixed)
 *   f[g, e] = (1/S) sum_s [e is among the k experts of token (g, s)]    fraction of tokens
 *                                                       (an id of -1 marks an unused slot)
 *   P[g, e] = (1/S) sum_s probs[g, s, e]                                mean router probability
 *   loss    = E^2 * mean over (g, e) of f[g, e] * P[g, e]
 * </pre>
 * A perfectly balanced router gives loss 1. Inputs of rank 2 ([S, E]) are one group; higher ranks
 * fold all leading dims into G. The gradient flows into the probabilities only (the ids are
 * constants): {@code dprobs[g, s, e] = E * f[g, e] / (G * S)}.
 *
 * <p>On a CUDA device the fractions f (constants, from the host ids) are uploaded and the sums run
 * as generic tensor ops on the device, in F32: {@code loss = E / (G S) * sum_{g,e} f[g, e] sum_s probs[g, s, e]}.
 */
public final class LoadBalancingLoss extends Function {
    private final int[] expertIds;
    private final int k;

    /**
     * @param expertIds [G * S * k] the experts chosen per token, in the token order of the probs
     * @param k         experts per token
     */
    public LoadBalancingLoss(int[] expertIds, int k) {
        if (k < 1) throw new IllegalArgumentException("load balancing loss: k must be >= 1, got " + k);
        this.expertIds = expertIds.clone();
        this.k = k;
    }

    private double[] fractions;   // f [G, E]

    /** f [G * E] of the last forward (the array itself). */
    double[] fractions() { return fractions; }
    private int groups, perGroup, experts;

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor probs = in[0];
        DeviceOps.requireCompute("load balancing loss", "probs", probs);
        if (probs.rank() < 2) throw new IllegalArgumentException("load balancing loss: probs must be [..., S, E], got " + Shape.str(probs.shape()));
        int E = probs.size(-1), S = probs.size(-2), G = S == 0 || E == 0 ? 0 : probs.numel() / (S * E);
        if (E < 1) throw new IllegalArgumentException("load balancing loss: no experts in probs " + Shape.str(probs.shape()));
        if (expertIds.length != (long) G * S * k) {
            throw new IllegalArgumentException("load balancing loss: " + expertIds.length + " expert ids for probs " + Shape.str(probs.shape())
                    + " and k = " + k + " (need G * S * k = " + (long) G * S * k + ")");
        }
        if (G * S == 0) throw new IllegalArgumentException("load balancing loss: no tokens in probs " + Shape.str(probs.shape()));
        groups = G; perGroup = S; experts = E;
        fractions = new double[G * E];
        for (int g = 0; g < G; g++) {
            for (int s = 0; s < S; s++) {
                int t = g * S + s;
                for (int j = 0; j < k; j++) {
                    int e = expertIds[t * k + j];
                    if (e < 0) continue;                  // no expert in this slot
                    if (e >= E) throw new IndexOutOfBoundsException("load balancing loss: expert id " + e + " of token " + t + " outside [0, " + E + ")");
                    boolean again = false;
                    for (int i = 0; i < j; i++) again |= expertIds[t * k + i] == e;
                    if (!again) fractions[g * E + e] += 1.0 / S;
                }
            }
        }
        if (DeviceOps.onCuda(probs)) return composedLoss(probs, fractions, G, S, E);
        double[] p = probs.toDoubleArray();
        double sum = 0;
        for (int g = 0; g < G; g++) {
            for (int e = 0; e < E; e++) {
                double mean = 0;
                for (int s = 0; s < S; s++) mean += p[(g * S + s) * E + e];
                sum += fractions[g * E + e] * (mean / S);
            }
        }
        double loss = sum / ((double) G * E) * E * E;
        return Tensor.scalar(probs.dtype(), loss);
    }

    /** The loss from generic tensor ops on probs' device, in F32: {@code E / (G S) * sum f * sum_s probs}. */
    static Tensor composedLoss(Tensor probs, double[] fractions, int G, int S, int E) {
        Tensor f = TensorArrays.wrap(fractions, G, E).to(DType.F32).to(probs.device());
        Tensor perExpert = probs.to(DType.F32).reshape(G, S, E).sum(1, false);          // [G, E]
        return perExpert.mul(f).sum().mul((double) E / ((double) G * S)).to(probs.dtype());
    }

    /** dprobs from generic tensor ops on g's device: {@code g * E f[g, e] / (G S)} over every token. */
    static Tensor composedGrad(Tensor g, double[] fractions, int G, int S, int E, int[] shape, DType dtype) {
        Tensor f = TensorArrays.wrap(fractions, G, 1, E).to(DType.F32).to(g.device());
        Tensor d = f.mul(g.to(DType.F32)).mul(E / ((double) G * S)).expand(G, S, E).contiguous();
        return d.reshape(shape).to(dtype);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        int G = groups, S = perGroup, E = experts;
        if (DeviceOps.onCuda(g)) return new Tensor[] {composedGrad(g, fractions, G, S, E, ctx.inputShape(0), ctx.inputDType(0))};
        double scale = g.item() * E / ((double) G * S);
        double[] d = new double[G * S * E];
        for (int gi = 0; gi < G; gi++) {
            for (int s = 0; s < S; s++) {
                for (int e = 0; e < E; e++) d[(gi * S + s) * E + e] = scale * fractions[gi * E + e];
            }
        }
        Tensor out = TensorArrays.wrap(d, ctx.inputShape(0));
        return new Tensor[] {ctx.inputDType(0) == DType.F64 ? out : out.to(ctx.inputDType(0))};
    }
}
