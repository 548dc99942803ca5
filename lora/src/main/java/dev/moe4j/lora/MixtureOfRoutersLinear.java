package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.Plans;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Mixture of Routers (Zhang et al. 2025, "Mixture of Routers"): R sub-routers each propose a
 * distribution over the N LoRA experts, and a learnable main router weighs their proposals; the
 * weighted distribution selects the top-k experts.
 * <pre>
 *   p_r = softmax(x W_r^T)                   [T, N]   sub-router r: {@code sub_routers.r.weight} [N, in]
 *   m   = softmax(x W_m^T)                   [T, R]   main router: {@code main_router.weight} [R, in]
 *   P   = sum_r m[:, r] * p_r                [T, N]   a distribution (a convex combination of distributions)
 *   ids = top-k of P per token (ties to the lower expert id)
 *   w   = P[ids] / sum_j P[ids_j]            [T, k]   renormalised
 *   y   = x W^T + b + s * sum_j w[t, j] B_{ids[t, j]} A_{ids[t, j]} x[t]
 * </pre>
 * Gradients reach every sub-router and the main router through w. The auxiliary loss is the
 * Switch load-balancing loss on P: {@code N * sum_i f_i mean_t P[t, i]}, f_i the fraction of
 * (token, slot) pairs routed to expert i. With R = 1 the layer is a top-k mixture as MixLoRA.
 */
public final class MixtureOfRoutersLinear extends LoraMixtureLinear {
    private final List<Linear> subRouters;
    private final Linear mainRouter;
    private final int topK;
    private Tensor lastMainWeights, lastDistribution;
    private int[] lastIds;

    /**
     * @param base       the frozen layer
     * @param numExperts N
     * @param numRouters R &gt;= 1 sub-routers
     * @param topK       k in [1, N]
     * @param spec       the experts' rank, alpha, dropout, initialisation
     * @param gen        source of initial values (routers as nn.Linear's default, no bias) and masks
     * @throws IllegalArgumentException for R &lt; 1, k outside [1, N], and the cases of {@link LoraMixtureLinear}
     */
    public MixtureOfRoutersLinear(Linear base, int numExperts, int numRouters, int topK, AdapterSpec spec, Generator gen) {
        if (numRouters < 1) throw new IllegalArgumentException("a mixture of routers needs R >= 1 sub-routers, got " + numRouters);
        if (topK < 1 || topK > numExperts) throw new IllegalArgumentException("top-k must lie in [1, N = " + numExperts + "], got " + topK);
        super(base, numExperts, spec, gen);
        int in = base.weight().size(1);
        this.topK = topK;
        ModuleDict subs = registerModule("sub_routers", new ModuleDict());
        List<Linear> list = new ArrayList<>();
        for (int r = 0; r < numRouters; r++) list.add(subs.put(Integer.toString(r), new Linear(in, numExperts, false, base.weight().dtype(), gen)));
        this.subRouters = Collections.unmodifiableList(list);
        this.mainRouter = registerModule("main_router", new Linear(in, numRouters, false, base.weight().dtype(), gen));
    }

    /** The sub-routers, each [N, in]. */
    public List<Linear> subRouters() { return subRouters; }

    /** The main router [R, in]. */
    public Linear mainRouter() { return mainRouter; }

    /** k. */
    public int topK() { return topK; }

    /** m [T, R] of the last forward (in the graph), or null. */
    public Tensor lastMainWeights() { return lastMainWeights; }

    /** P [T, N] of the last forward (in the graph), or null. */
    public Tensor lastDistribution() { return lastDistribution; }

    /** [T * k] expert ids of the last forward (a copy), or null. */
    public int[] lastIds() { return lastIds == null ? null : lastIds.clone(); }

    /** P = sum_r m[:, r] p_r for token rows x [T, in]: [T, N], in the graph. */
    public Tensor distribution(Tensor x) {
        Tensor m = F.softmax(mainRouter.forward(x), -1);
        lastMainWeights = m;
        Tensor p = null;
        for (int r = 0; r < subRouters.size(); r++) {
            Tensor term = F.mul(F.narrow(m, 1, r, 1), F.softmax(subRouters.get(r).forward(x), -1));
            p = p == null ? term : F.add(p, term);
        }
        return p;
    }

    @Override
    protected Tensor mixture(Tensor x, Tensor xExperts) {
        int T = x.size(0), n = experts.numExperts();
        Tensor p = distribution(x);
        lastDistribution = p;
        TopK top = p.detach().topk(topK, 1, true);
        long[] idx = top.indices().toLongArray();
        int[] ids = new int[idx.length];
        for (int q = 0; q < idx.length; q++) ids[q] = (int) idx[q];
        lastIds = ids;
        Tensor chosen = F.gather(p, 1, top.indices());
        Tensor w = F.div(chosen, F.sum(chosen, 1, true));
        RoutingPlan plan = Plans.build(ids, null, null, T, topK, n, Capacity.unlimited());
        Tensor delta = experts.routed(xExperts, plan, w);
        if (T > 0) {
            double[] f = new double[n];
            for (int id : ids) f[id] += 1.0 / (T * topK);
            setAuxLoss(F.mul(F.sum(F.mul(F.mean(p, 0, false), Tensor.of(f, n).to(x.dtype()).to(x.device()))), n));
        } else {
            setAuxLoss(null);
        }
        return delta;
    }

    @Override
    protected String describe() {
        return super.describe() + ", experts=" + experts.numExperts() + ", routers=" + subRouters.size() + ", k=" + topK;
    }
}
