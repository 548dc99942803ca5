package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.Plans;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * AdaMoLE (Liu and Luo 2024, "AdaMoLE: Fine-Tuning Large Language Models with Adaptive Mixture of
 * Low-Rank Adaptation Experts"): instead of a fixed k, a learned threshold decides per token how
 * many LoRA experts run.
 * <pre>
 *   p   = softmax(x W_g^T)                        [T, N]   {@code lora_gating} [N, in], no bias
 *   tau = tauMax * sigmoid(x w_t + b_t)           [T, 1]   {@code lora_threshold} [1, in] + bias; tauMax = 1/N
 *   a   = p - tau;   expert i active for t when a[t, i] &gt;= 0
 *   w   = a * [a &gt;= 0] / sum_i (a * [a &gt;= 0])   (a sum of 0 is replaced by 1)
 *   y   = x W^T + b + s * sum over active i of w[t, i] B_i A_i x[t]
 * </pre>
 * With tauMax = 1/N the most likely expert is always active (its p is at least 1/N &gt; tau). The
 * threshold is trained through w. Only active (token, expert) pairs are computed, as grouped GEMMs
 * over a plan whose k = N slots are the experts and whose unselected pairs are the inactive ones.
 * The auxiliary loss is the paper's Switch-style {@code N * sum_i f_i P_i} with f_i the fraction of
 * tokens that activate expert i and P_i the mean of a[:, i].
 */
public final class AdaMoleLinear extends LoraMixtureLinear {
    private final Linear gate, threshold;
    private final double maxThreshold;
    private int[] lastActiveCounts;

    /**
     * @param base         the frozen layer
     * @param numExperts   N
     * @param maxThreshold tauMax in (0, 1] (the paper's default is 1/N)
     * @param spec         the experts' rank, alpha, dropout, initialisation
     * @param gen          source of initial values (gate and threshold as nn.Linear's default) and masks
     * @throws IllegalArgumentException for tauMax outside (0, 1], and the cases of {@link LoraMixtureLinear}
     */
    public AdaMoleLinear(Linear base, int numExperts, double maxThreshold, AdapterSpec spec, Generator gen) {
        if (!(maxThreshold > 0 && maxThreshold <= 1)) throw new IllegalArgumentException("maximum threshold must lie in (0, 1], got " + maxThreshold);
        super(base, numExperts, spec, gen);
        int in = base.weight().size(1);
        this.maxThreshold = maxThreshold;
        this.gate = registerModule("lora_gating", new Linear(in, numExperts, false, base.weight().dtype(), gen));
        this.threshold = registerModule("lora_threshold", new Linear(in, 1, true, base.weight().dtype(), gen));
    }

    /** With the paper's default tauMax = 1/N. */
    public AdaMoleLinear(Linear base, int numExperts, AdapterSpec spec, Generator gen) {
        this(base, numExperts, 1.0 / Math.max(1, numExperts), spec, gen);
    }

    /** The gating layer [N, in]. */
    public Linear gate() { return gate; }

    /** The threshold layer [1, in] with bias. */
    public Linear threshold() { return threshold; }

    /** Number of active experts per token in the last forward [T] (a copy), or null. */
    public int[] lastActiveCounts() { return lastActiveCounts == null ? null : lastActiveCounts.clone(); }

    @Override
    protected Tensor mixture(Tensor x, Tensor xExperts) {
        int T = x.size(0), n = experts.numExperts();
        Tensor p = F.softmax(gate.forward(x), -1);
        Tensor tau = F.mul(F.sigmoid(threshold.forward(x)), maxThreshold);
        Tensor a = F.sub(p, tau);                                                   // [T, N]
        double[] av = a.toDoubleArray();
        boolean[] active = new boolean[T * n];
        double[] mask = new double[T * n], zeroSum = new double[T];
        int[] ids = new int[T * n];
        lastActiveCounts = new int[T];
        for (int t = 0; t < T; t++) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                int q = t * n + i;
                ids[q] = i;
                active[q] = av[q] >= 0;
                if (active[q]) {
                    mask[q] = 1;
                    sum += av[q];
                    lastActiveCounts[t]++;
                }
            }
            zeroSum[t] = sum == 0 ? 1 : 0;
        }
        Tensor m = Tensor.of(mask, T, n).to(x.dtype()).to(x.device());
        Tensor kept = F.mul(a, m);
        Tensor sums = F.add(F.sum(kept, 1, true), Tensor.of(zeroSum, T, 1).to(x.dtype()).to(x.device()));
        Tensor w = F.div(kept, sums);
        RoutingPlan plan = Plans.build(ids, active, null, T, n, n, Capacity.unlimited());
        Tensor delta = experts.routed(xExperts, plan, w);
        if (T > 0) {
            double[] f = new double[n];
            for (int q = 0; q < T * n; q++) if (active[q]) f[q % n] += 1.0 / T;
            Tensor fT = Tensor.of(f, n).to(x.dtype()).to(x.device());
            setAuxLoss(F.mul(F.sum(F.mul(F.mean(a, 0, false), fT)), n));
        } else {
            setAuxLoss(null);
        }
        return delta;
    }

    /** tau [T, 1] for token rows x [T, in] (no graph). */
    public Tensor thresholds(Tensor x) {
        try (NoGrad s = NoGrad.enter()) {
            return F.mul(F.sigmoid(threshold.forward(x)), maxThreshold);
        }
    }

    @Override
    protected String describe() { return super.describe() + ", experts=" + experts.numExperts() + ", max threshold=" + maxThreshold; }
}
