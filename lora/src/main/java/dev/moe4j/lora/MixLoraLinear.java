package dev.moe4j.lora;

import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.balance.BalanceLosses;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * MixLoRA (Li et al. 2024, "MixLoRA: Enhancing Large Language Models Fine-Tuning with LoRA-based
 * Mixture of Experts"): N LoRA experts on a frozen linear layer behind a top-k router.
 * <pre>
 *   logits = x W_g^T                 [T, N]   router {@code gate.weight} [N, in], trainable
 *   ids, w = top-k of softmax(logits), renormalised to sum 1 (Mixtral's gating)
 *   y      = x W^T + b + s * sum_j w[t, j] B_{ids[t, j]} A_{ids[t, j]} x[t]
 * </pre>
 * The experts run as grouped GEMMs over the routing plan ({@link LoraExpertBank#routed}); the
 * auxiliary loss is the Switch load-balancing loss {@code N * sum_i f_i P_i} (f_i the fraction of
 * (token, slot) pairs routed to expert i, P_i its mean router probability).
 */
public class MixLoraLinear extends LoraMixtureLinear {
    private final SoftmaxTopKRouter router;
    private final int topK;
    private Routing lastRouting;

    /**
     * @param base       the frozen layer
     * @param numExperts N
     * @param topK       k, 1 &lt;= k &lt;= N
     * @param spec       the experts' rank, alpha, dropout, initialisation
     * @param gen        source of initial values (router normal with std 1/sqrt(in)) and masks
     * @throws IllegalArgumentException for k outside [1, N] and the cases of {@link LoraMixtureLinear}
     */
    public MixLoraLinear(Linear base, int numExperts, int topK, AdapterSpec spec, Generator gen) {
        this(base, numExperts, topK, Capacity.unlimited(), spec, gen);
    }

    /** With an expert capacity (used by {@link SiraLinear}). */
    MixLoraLinear(Linear base, int numExperts, int topK, Capacity capacity, AdapterSpec spec, Generator gen) {
        if (topK < 1 || topK > numExperts) throw new IllegalArgumentException("top-k must lie in [1, N = " + numExperts + "], got " + topK);
        if (base == null) throw new IllegalArgumentException("base layer is null");
        super(base, numExperts, spec, gen);
        int in = base.weight().size(1);
        this.topK = topK;
        this.router = registerModule("gate", new SoftmaxTopKRouter(in, numExperts, topK, true, capacity, false,
                base.weight().dtype(), gen, 1 / Math.sqrt(in)));
    }

    /** The router. */
    public SoftmaxTopKRouter router() { return router; }

    /** k. */
    public int topK() { return topK; }

    /** The routing of the last forward, or null. */
    public Routing lastRouting() { return lastRouting; }

    /** The gate weights [T, k] to combine with; SiRA drops some of them in training. */
    protected Tensor gateWeights(Tensor weights) { return weights; }

    @Override
    protected Tensor mixture(Tensor x, Tensor xExperts) {
        Routing routing = router.route(x);
        lastRouting = routing;
        Tensor delta = experts.routed(xExperts, routing, gateWeights(routing.weights()));
        setAuxLoss(x.size(0) == 0 ? null : BalanceLosses.switchLoadBalancingFromLogits(routing.logits(), routing.expertIds(), topK));
        return delta;
    }

    @Override
    protected String describe() { return super.describe() + ", experts=" + experts.numExperts() + ", top-k=" + topK; }
}
