package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * LoRAMoE (Dou et al. 2023, "LoRAMoE: Alleviate World Knowledge Forgetting in Large Language
 * Models via MoE-Style Plugin"): a soft mixture of all N LoRA experts on a frozen layer, with a
 * localized balancing constraint.
 * <pre>
 *   w = softmax(x W_g^T)                              [T, N]   router {@code lora_router} [N, in], no bias
 *   y = x W^T + b + s * sum_i w[t, i] B_i A_i x[t]              every expert on every token (dense)
 * </pre>
 * <h2>Localized balancing constraint</h2>
 * The experts are of two types (by default the first half type 0, "world knowledge", the rest
 * type 1, "downstream tasks"), and each sample of the batch has a type. For the last input
 * x [B, S, in] (B samples; an input [T, in] counts as one sample):
 * <pre>
 *   Q[b, i]     = sum over the S tokens of sample b of w[t, i]            importance
 *   Omega[b, i] = 1 + delta when type(expert i) = type(sample b), else 1 - delta
 *   Z           = Omega * Q
 *   L_lbc       = var(Z) / mean(Z)          over all B N entries, var with correction 1 (as torch.var)
 * </pre>
 * {@link #auxLoss()} is L_lbc with every Omega = 1 (a plain coefficient-of-variation balance);
 * {@link #balanceLoss(int[])} takes the sample types.
 */
public final class LoraMoeLinear extends LoraMixtureLinear {
    private final Linear router;
    private final double delta;
    private int[] expertTypes;
    private Tensor lastWeights;

    /**
     * @param base       the frozen layer
     * @param numExperts N
     * @param delta      the constraint's delta in [0, 1)
     * @param spec       the experts' rank, alpha, dropout, initialisation
     * @param gen        source of initial values (router as nn.Linear's default) and masks
     * @throws IllegalArgumentException for delta outside [0, 1), and the cases of {@link LoraMixtureLinear}
     */
    public LoraMoeLinear(Linear base, int numExperts, double delta, AdapterSpec spec, Generator gen) {
        if (!(delta >= 0 && delta < 1)) throw new IllegalArgumentException("balancing delta must lie in [0, 1), got " + delta);
        super(base, numExperts, spec, gen);
        this.delta = delta;
        this.router = registerModule("lora_router", new Linear(base.weight().size(1), numExperts, false, base.weight().dtype(), gen));
        this.expertTypes = new int[numExperts];
        for (int i = numExperts / 2; i < numExperts; i++) expertTypes[i] = 1;
    }

    /** The router [N, in]. */
    public Linear router() { return router; }

    /**
     * Sets each expert's type (0 or 1).
     *
     * @throws IllegalArgumentException for a wrong length or a type other than 0 and 1
     */
    public void setExpertTypes(int... types) {
        if (types.length != experts.numExperts()) throw new IllegalArgumentException(types.length + " expert types for N = " + experts.numExperts());
        for (int t : types) if (t != 0 && t != 1) throw new IllegalArgumentException("expert types are 0 or 1, got " + t);
        this.expertTypes = types.clone();
    }

    /** The gate weights [T, N] of the last forward (in the graph), or null. */
    public Tensor lastWeights() { return lastWeights; }

    @Override
    protected Tensor mixture(Tensor x, Tensor xExperts) {
        Tensor w = F.softmax(router.forward(x), -1);
        lastWeights = w;
        setAuxLoss(x.size(0) == 0 ? null : balance(w, null, 1));
        return experts.dense(xExperts, w);
    }

    /**
     * The localized balancing constraint of the last forward.
     *
     * @param sampleTypes [B] type (0 or 1) of each sample of the last input x [B, S, in] (for an input
     *                    [T, in], one entry)
     * @return L_lbc, a 0-dim tensor in the graph
     * @throws IllegalStateException before a forward; IllegalArgumentException for a wrong length
     */
    public Tensor balanceLoss(int[] sampleTypes) {
        if (lastWeights == null) throw new IllegalStateException("balanceLoss needs a forward first");
        return balance(lastWeights, sampleTypes, sampleTypes.length);
    }

    private Tensor balance(Tensor w, int[] sampleTypes, int samples) {
        int T = w.size(0), n = w.size(1);
        if (samples < 1 || T % samples != 0) {
            throw new IllegalArgumentException(samples + " sample types do not split the " + T + " tokens of the last forward into equal samples");
        }
        Tensor q = F.sum(F.reshape(w, samples, T / samples, n), 1, false);          // [B, N]
        Tensor z = q;
        if (sampleTypes != null) {
            double[] omega = new double[samples * n];
            for (int b = 0; b < samples; b++) {
                for (int i = 0; i < n; i++) omega[b * n + i] = sampleTypes[b] == expertTypes[i] ? 1 + delta : 1 - delta;
            }
            z = F.mul(q, Tensor.of(omega, samples, n).to(w.dtype()).to(w.device()));
        }
        Tensor mean = F.mean(z);
        return F.div(F.var(z, null, 1, false), mean);
    }

    @Override
    protected String describe() { return super.describe() + ", experts=" + experts.numExperts() + ", delta=" + delta; }
}
