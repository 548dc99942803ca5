package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.Plans;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * DynMoLE (Li et al. 2025, "DynMoLE: Boosting Mixture of LoRA Experts Fine-Tuning with a Hybrid
 * Routing Mechanism"): the uncertainty of the router, measured by the Tsallis entropy of its
 * distribution, decides per token between soft routing over all LoRA experts and sparse routing.
 *
 * <h2>The rule, in our words</h2>
 * A token whose router distribution is nearly flat (the router cannot tell the experts apart) gets
 * every expert, each weighted by its probability; a token with a confident router gets only the
 * experts that hold the bulk of the probability, and never fewer than a minimum count:
 * <pre>
 *   p   = softmax(x W_g^T)                          [T, N]   {@code lora_gate} [N, in], no bias
 *   H   = S_q(p) / max S_q                          [T]      normalised Tsallis entropy ({@link TsallisEntropy})
 *   H &gt; tau (uncertain):  active = all N experts                                     soft routing
 *   H &lt;= tau (confident): sort p descending; expert at rank j is active when j &lt; keepTopK
 *                          or p_(0) + ... + p_(j) &lt;= topP                           top-p with a top-k floor
 *   w   = p * [active]                              (not renormalised)
 *   y   = x W^T + b + s * sum over active i of w[t, i] B_i A_i x[t]
 * </pre>
 * This follows the authors' reference implementation (MoE-PEFT's {@code dynmole} strategy, defaults
 * tau = 0.9, q = 1.1, topP = 0.75, keepTopK = 2). Only the active pairs are computed, as grouped
 * GEMMs over a plan whose N slots are the experts ({@link LoraExpertBank#routed}).
 *
 * <h2>Auxiliary loss</h2>
 * <pre>
 *   L_entropy = mean_t H[t]                         pushes the router towards confident decisions
 *   L_balance = N * sum_i f_i P_i,   f_i = mean_t w[t, i],   P_i = mean_t p[t, i]
 *   auxLoss   = entropyLossCoef * L_entropy + balanceLossCoef * L_balance     (defaults 0.01, 0.001)
 * </pre>
 * Both terms are in the graph; the selection itself is piecewise constant.
 */
public final class DynMoleLinear extends LoraMixtureLinear {

    /**
     * DynMoLE's routing settings.
     *
     * @param entropyThreshold tau in [0, 1]: a normalised entropy above it routes softly
     * @param entropyIndex     the Tsallis index q in (0, 2]
     * @param topP             the sparse mode's cumulative-probability bound, in (0, 1]
     * @param keepTopK         the sparse mode's minimum number of experts, &gt;= 1
     * @param entropyLossCoef  weight of L_entropy in {@link #auxLoss()}, &gt;= 0
     * @param balanceLossCoef  weight of L_balance in {@link #auxLoss()}, &gt;= 0
     */
    public record Settings(double entropyThreshold, double entropyIndex, double topP, int keepTopK,
                           double entropyLossCoef, double balanceLossCoef) {
        /**
         * @throws IllegalArgumentException for a value outside its range (named)
         */
        public Settings {
            if (!(entropyThreshold >= 0 && entropyThreshold <= 1)) throw new IllegalArgumentException("entropy threshold must lie in [0, 1], got " + entropyThreshold);
            TsallisEntropy.checkIndex(entropyIndex);
            if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must lie in (0, 1], got " + topP);
            if (keepTopK < 1) throw new IllegalArgumentException("keepTopK must be >= 1, got " + keepTopK);
            if (!(entropyLossCoef >= 0) || !(balanceLossCoef >= 0)) {
                throw new IllegalArgumentException("loss coefficients must be >= 0, got " + entropyLossCoef + " and " + balanceLossCoef);
            }
        }

        /** The reference defaults: tau 0.9, q 1.1, topP 0.75, keepTopK 2, coefficients 0.01 and 0.001. */
        public static Settings defaults() { return new Settings(0.9, 1.1, 0.75, 2, 0.01, 0.001); }
    }

    private final Linear gate;
    private final Settings settings;
    private boolean[] lastSoft;
    private int[] lastActiveCounts;
    private Tensor lastEntropyLoss, lastBalanceLoss;

    /**
     * @param base       the frozen layer
     * @param numExperts N
     * @param settings   the routing settings (keepTopK at most N)
     * @param spec       the experts' rank, alpha, dropout, initialisation
     * @param gen        source of initial values (gate as nn.Linear's default) and masks
     * @throws IllegalArgumentException for keepTopK &gt; N, and the cases of {@link LoraMixtureLinear}
     */
    public DynMoleLinear(Linear base, int numExperts, Settings settings, AdapterSpec spec, Generator gen) {
        if (settings == null) throw new IllegalArgumentException("settings are null");
        if (settings.keepTopK() > numExperts) throw new IllegalArgumentException("keepTopK = " + settings.keepTopK() + " exceeds N = " + numExperts);
        super(base, numExperts, spec, gen);
        this.settings = settings;
        this.gate = registerModule("lora_gate", new Linear(base.weight().size(1), numExperts, false, base.weight().dtype(), gen));
    }

    /** The router [N, in]. */
    public Linear gate() { return gate; }

    /** The routing settings. */
    public Settings settings() { return settings; }

    /** Per token of the last forward, whether it was routed softly (a copy), or null. */
    public boolean[] lastSoft() { return lastSoft == null ? null : lastSoft.clone(); }

    /** Active experts per token in the last forward (a copy), or null. */
    public int[] lastActiveCounts() { return lastActiveCounts == null ? null : lastActiveCounts.clone(); }

    /** L_entropy of the last forward (0-dim, in the graph), or null. */
    public Tensor lastEntropyLoss() { return lastEntropyLoss; }

    /** L_balance of the last forward (0-dim, in the graph), or null. */
    public Tensor lastBalanceLoss() { return lastBalanceLoss; }

    /**
     * The active-expert mask of one token: soft (all) when its normalised entropy exceeds tau, else
     * top-p with at least keepTopK experts (ties in p to the lower expert id).
     *
     * @param p        probabilities, token t at {@code p[off .. off + n - 1]}
     * @param entropy  its normalised Tsallis entropy
     * @param active   out: the mask, written at the same positions
     * @return whether the token was routed softly
     */
    static boolean select(double[] p, int off, int n, double entropy, Settings s, boolean[] active) {
        if (entropy > s.entropyThreshold()) {
            for (int i = 0; i < n; i++) active[off + i] = true;
            return true;
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> {
            int c = Double.compare(p[off + b], p[off + a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        double cumulative = 0;
        for (int j = 0; j < n; j++) {
            int i = order[j];
            cumulative += p[off + i];
            active[off + i] = j < s.keepTopK() || cumulative <= s.topP();
        }
        return false;
    }

    @Override
    protected Tensor mixture(Tensor x, Tensor xExperts) {
        int T = x.size(0), n = experts.numExperts();
        Tensor p = F.softmax(gate.forward(x), -1);
        Tensor h = TsallisEntropy.normalized(p, settings.entropyIndex());
        double[] pv = p.toDoubleArray(), hv = h.toDoubleArray();
        boolean[] active = new boolean[T * n];
        double[] mask = new double[T * n];
        int[] ids = new int[T * n];
        lastSoft = new boolean[T];
        lastActiveCounts = new int[T];
        for (int t = 0; t < T; t++) {
            lastSoft[t] = select(pv, t * n, n, hv[t], settings, active);
            for (int i = 0; i < n; i++) {
                int q = t * n + i;
                ids[q] = i;
                if (active[q]) {
                    mask[q] = 1;
                    lastActiveCounts[t]++;
                }
            }
        }
        Tensor w = F.mul(p, Tensor.of(mask, T, n).to(x.dtype()).to(x.device()));
        RoutingPlan plan = Plans.build(ids, active, null, T, n, n, Capacity.unlimited());
        Tensor delta = experts.routed(xExperts, plan, w);
        if (T > 0) {
            lastEntropyLoss = F.mean(h);
            lastBalanceLoss = F.mul(F.sum(F.mul(F.mean(w, 0, false), F.mean(p, 0, false))), n);
            setAuxLoss(F.add(F.mul(lastEntropyLoss, settings.entropyLossCoef()), F.mul(lastBalanceLoss, settings.balanceLossCoef())));
        } else {
            lastEntropyLoss = lastBalanceLoss = null;
            setAuxLoss(null);
        }
        return delta;
    }

    @Override
    protected String describe() { return super.describe() + ", experts=" + experts.numExperts() + ", " + settings; }
}
