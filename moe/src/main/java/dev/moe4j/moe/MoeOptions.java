package dev.moe4j.moe;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.tensor.DType;

/**
 * Everything needed to build an {@link MoeLayer} from scratch, with defaults for a small SwiGLU
 * layer (softmax top-2, renormalised, no capacity, no balancing). A mutable builder: each setter
 * returns this; {@link MoeLayer#MoeLayer(MoeOptions)} validates the whole.
 *
 * <pre>{@code
 * MoeLayer layer = new MoeLayer(new MoeOptions().hiddenSize(64).intermediateSize(128)
 *         .experts(8).topK(2).router(RouterKind.SWITCH).capacityFactor(1.25)
 *         .balancing(Balancing.auxLoss(0.01)).seed(42));
 * }</pre>
 */
public final class MoeOptions {
    RouterKind router = RouterKind.SOFTMAX_TOPK;
    int hiddenSize = 32, intermediateSize = 64, numExperts = 8, topK = 2;
    double capacityFactor = Double.POSITIVE_INFINITY;
    DropPolicy dropPolicy = DropPolicy.BY_POSITION;
    int capacityGroupSize = 0;
    boolean renormalize = true;
    boolean selectionBias = false;
    int nGroup = 1, topkGroup = 1;
    double routedScalingFactor = 1.0;
    double topP = 0.5;
    int numNullExperts = 1;
    ExpertActivation activation = ExpertActivation.SILU;
    boolean gated = true;
    int sharedIntermediateSize = 0;
    boolean sharedExpertGate = false;
    double jitter = 0;
    long seed = 0;
    DType dtype = DType.F32;
    double routerInitStd = 0.02, expertInitStd = 0.02;
    Balancing balancing = Balancing.none();
    boolean failOnNaN = true;

    /** Creates options with the defaults. */
    public MoeOptions() {}

    /** The router kind. */
    public MoeOptions router(RouterKind kind) { this.router = kind; return this; }
    /** d, the token width. */
    public MoeOptions hiddenSize(int d) { this.hiddenSize = d; return this; }
    /** f, the hidden width of each routed expert. */
    public MoeOptions intermediateSize(int f) { this.intermediateSize = f; return this; }
    /** E, the number of routed experts. */
    public MoeOptions experts(int e) { this.numExperts = e; return this; }
    /** k, experts per token (for top-p and null experts: the most slots per token). */
    public MoeOptions topK(int k) { this.topK = k; return this; }
    /**
     * Capacity factor: token-choice routers drop pairs beyond ceil(factor * T * k / E) per expert;
     * expert choice takes ceil(factor * T / E) tokens per expert. Infinite (the default): no limit
     * (expert choice then uses 1).
     */
    public MoeOptions capacityFactor(double factor) { this.capacityFactor = factor; return this; }
    /** Which pairs an expert over capacity keeps. */
    public MoeOptions dropPolicy(DropPolicy policy) { this.dropPolicy = policy; return this; }
    /** Tokens per capacity group (0: one group of all tokens). */
    public MoeOptions capacityGroupSize(int tokens) { this.capacityGroupSize = tokens; return this; }
    /** Renormalise the top-k weights (softmax top-k, DeepSeek-V3 norm_topk_prob, null experts). */
    public MoeOptions renormalize(boolean on) { this.renormalize = on; return this; }
    /** Give a softmax top-k router a selection bias (for auxiliary-loss-free balancing). */
    public MoeOptions selectionBias(boolean on) { this.selectionBias = on; return this; }
    /** DeepSeek-V3 group limit: n_group groups, topk_group kept per token. */
    public MoeOptions groups(int nGroup, int topkGroup) { this.nGroup = nGroup; this.topkGroup = topkGroup; return this; }
    /** DeepSeek-V3 routed scaling factor. */
    public MoeOptions routedScalingFactor(double s) { this.routedScalingFactor = s; return this; }
    /** Dynamic top-p threshold. */
    public MoeOptions topP(double p) { this.topP = p; return this; }
    /** Number of null experts (AdaMoE). */
    public MoeOptions nullExperts(int n) { this.numNullExperts = n; return this; }
    /** The expert nonlinearity and whether experts are gated (GLU). */
    public MoeOptions activation(ExpertActivation act, boolean isGated) { this.activation = act; this.gated = isGated; return this; }
    /** Shared expert of hidden width f (0: none); {@code gate}: scale it by sigmoid(x w) as Qwen2-MoE. */
    public MoeOptions sharedExpert(int f, boolean gate) { this.sharedIntermediateSize = f; this.sharedExpertGate = gate; return this; }
    /** Router jitter noise eps (training only; the Switch router's input noise). */
    public MoeOptions jitter(double eps) { this.jitter = eps; return this; }
    /** Seed of the initial weights and of all noise. */
    public MoeOptions seed(long s) { this.seed = s; return this; }
    /** Parameter and compute dtype, F32 (default) or F64. */
    public MoeOptions dtype(DType t) { this.dtype = t; return this; }
    /** Standard deviations of the initial router and expert weights. */
    public MoeOptions initStd(double routerStd, double expertStd) { this.routerInitStd = routerStd; this.expertInitStd = expertStd; return this; }
    /** The balancing losses and bias update. */
    public MoeOptions balancing(Balancing b) { this.balancing = b; return this; }
    /** Whether NaN router logits throw (naming the token). Default on. */
    public MoeOptions failOnNaN(boolean on) { this.failOnNaN = on; return this; }

    /** The router kind. */
    public RouterKind routerKind() { return router; }
    /** The balancing. */
    public Balancing balancingConfig() { return balancing; }
}
