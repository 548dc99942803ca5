package dev.moe4j.moe;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.balance.BalanceLosses;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.balance.LossFreeBalancer;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.experts.SharedExpert;
import dev.moe4j.moe.ops.CombineExperts;
import dev.moe4j.moe.ops.DeviceOps;
import dev.moe4j.moe.ops.DevicePlan;
import dev.moe4j.moe.ops.PermuteTokens;
import dev.moe4j.moe.ops.TensorArrays;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.DeepSeekV3Router;
import dev.moe4j.moe.routing.ExpertChoiceRouter;
import dev.moe4j.moe.routing.HashRouter;
import dev.moe4j.moe.routing.NoisyTopKRouter;
import dev.moe4j.moe.routing.NullExpertRouter;
import dev.moe4j.moe.routing.Router;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.moe.routing.SwitchRouter;
import dev.moe4j.moe.routing.TopPRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Mixture-of-Experts layer: router &rarr; routing plan &rarr; permute &rarr; grouped expert FFN
 * &rarr; combine, plus optional shared experts, trainable end to end.
 * <pre>
 *   x [..., d] -&gt; T = numel / d token rows
 *   routing  = router.route(x)                   expert ids and gate weights [T, k], the plan
 *   xPerm    = permute(x, plan)                  [R, d]   rows sorted by expert
 *   yPerm    = experts(xPerm, plan.offsets)      [R, d]   grouped GEMMs, one group per expert
 *   y        = combine(yPerm, weights, plan)     [T, d]   weighted sum in slot order
 *   y       += shared(x) (* sigmoid(x w_g) for a gated shared expert, Qwen2-MoE)
 * </pre>
 * Every step is a differentiable function, so gradients reach the input, the router weights, the
 * expert weights and the shared experts. The training flag ({@link #train}/{@link #eval}) switches
 * router noise and jitter. After each forward the layer keeps the {@link Routing} and a printable
 * {@link RoutingReport} (tokens per expert, dropped tokens, the permutation, the balance losses);
 * {@link #auxLoss()} is the weighted balance loss to add to the training loss, and
 * {@link #updateSelectionBias()} applies the auxiliary-loss-free bias update after a step.
 *
 * <p>Sub-modules carry Hugging Face names: the router under {@code gate} (or {@code router} for
 * Switch), {@code experts} ({@code gate_up_proj}, {@code down_proj}), and the shared expert under
 * {@code shared_experts} or {@code shared_expert} with {@code shared_expert_gate}.
 *
 * <h2>On a CUDA device</h2>
 * Move the layer with {@link Module#to(dev.moe4j.tensor.Device)} and give it device activations (F32,
 * or BF16 with BF16 parameters): gating, the routing plan, permute, the grouped expert GEMMs and
 * combine run as the device kernels of {@link dev.moe4j.tensor.cuda.CudaMoe}, everything else as
 * generic tensor ops on the device. The host receives the per-expert offsets and demand (2E + 1 ints)
 * for shapes and the load; the full plan and the expert ids come over only for the report's table
 * and the balance losses. Noise (jitter, router noise) is drawn on the host from the same generators
 * and uploaded, so a layer and its copy on the device compute the same function.
 */
public final class MoeLayer extends Module {
    private final Router router;
    private final GroupedExperts experts;
    private final SharedExpert shared;
    private final Linear sharedGate;
    private final Balancing balancing;
    private final double inputJitter;
    private final Generator jitterNoise;
    private final int hiddenSize;

    private Routing lastRouting;
    private RoutingReport lastReport;
    private Tensor lastAuxLoss;
    private Tensor lastSharedGateLogits;

    /**
     * Builds a layer from options.
     *
     * @throws IllegalArgumentException for inconsistent options (E = 0, k &gt; E, a negative capacity
     *         factor, top-k other than 1 for Switch routing, a bias update without a selection bias, ...)
     */
    public MoeLayer(MoeOptions o) {
        this(buildRouter(o), o.router == RouterKind.SWITCH ? "router" : "gate",
                new GroupedExperts(o.numExperts, o.hiddenSize, o.intermediateSize, o.activation, o.gated, o.dtype,
                        new Generator(o.seed * 31 + 7), o.expertInitStd),
                o.sharedIntermediateSize > 0 ? new SharedExpert(o.hiddenSize, o.sharedIntermediateSize, o.activation, o.gated, o.dtype,
                        new Generator(o.seed * 31 + 11)) : null,
                o.sharedExpertGate ? "shared_expert" : "shared_experts",
                o.sharedIntermediateSize > 0 && o.sharedExpertGate ? new Linear(o.hiddenSize, 1, false, o.dtype, new Generator(o.seed * 31 + 13)) : null,
                o.balancing, o.router == RouterKind.SWITCH ? 0 : o.jitter, o.seed);
    }

    /**
     * Assembles a layer from parts (the loaders use this).
     *
     * @param router      the router
     * @param routerName  its module name ({@code gate} or {@code router})
     * @param experts     the routed experts
     * @param shared      a shared expert, or null
     * @param sharedName  its module name ({@code shared_experts} or {@code shared_expert})
     * @param sharedGate  [1, d] linear gate of the shared expert (its output scales it by a sigmoid), or null
     * @param balancing   balance losses and bias update
     * @param inputJitter multiplicative uniform noise on the layer input in training (0: none)
     * @param seed        seed of the jitter noise
     * @throws IllegalArgumentException when the parts disagree on sizes, or a bias update is asked of a
     *         router without a selection bias
     */
    public MoeLayer(Router router, String routerName, GroupedExperts experts, SharedExpert shared, String sharedName, Linear sharedGate,
                    Balancing balancing, double inputJitter, long seed) {
        if (router == null || experts == null || balancing == null) throw new IllegalArgumentException("an MoE layer needs a router, experts and a balancing");
        if (router.numExperts() != experts.numExperts()) {
            throw new IllegalArgumentException("router has E = " + router.numExperts() + " experts, the expert weights hold " + experts.numExperts());
        }
        if (router.hiddenSize() != experts.hiddenSize()) {
            throw new IllegalArgumentException("router reads d = " + router.hiddenSize() + ", the experts d = " + experts.hiddenSize());
        }
        if (sharedGate != null && shared == null) throw new IllegalArgumentException("a shared expert gate needs a shared expert");
        if (balancing.biasUpdateRate() > 0 && router.selectionBias() == null) {
            throw new IllegalArgumentException("the auxiliary-loss-free bias update needs a router with a selection bias; "
                    + router.getClass().getSimpleName() + " has none (use DEEPSEEK_V3, or SOFTMAX_TOPK with selectionBias)");
        }
        if (!(inputJitter >= 0 && inputJitter < 1)) throw new IllegalArgumentException("input jitter must lie in [0, 1), got " + inputJitter);
        this.router = registerModule(routerName, router);
        this.experts = registerModule("experts", experts);
        this.shared = shared == null ? null : registerModule(sharedName, shared);
        this.sharedGate = sharedGate == null ? null : registerModule(sharedName + "_gate", sharedGate);
        this.balancing = balancing;
        this.inputJitter = inputJitter;
        this.jitterNoise = new Generator(seed * 31 + 17);
        this.hiddenSize = experts.hiddenSize();
    }

    private static Router buildRouter(MoeOptions o) {
        Generator gen = new Generator(o.seed * 31 + 3);
        boolean limited = !Double.isInfinite(o.capacityFactor);
        Capacity capacity = limited ? new Capacity(o.capacityFactor, -1, o.dropPolicy, o.capacityGroupSize) : Capacity.unlimited();
        Router r = switch (o.router) {
            case SOFTMAX_TOPK -> new SoftmaxTopKRouter(o.hiddenSize, o.numExperts, o.topK, o.renormalize, capacity,
                    o.selectionBias || o.balancing.biasUpdateRate() > 0, o.dtype, gen, o.routerInitStd);
            case DEEPSEEK_V3 -> new DeepSeekV3Router(o.hiddenSize, o.numExperts, o.topK, o.nGroup, o.topkGroup, o.renormalize,
                    o.routedScalingFactor, o.dtype, gen, o.routerInitStd);
            case SWITCH -> {
                if (o.topK != 1) throw new IllegalArgumentException("Switch routing is top-1; got k = " + o.topK);
                yield new SwitchRouter(o.hiddenSize, o.numExperts, capacity, false, o.jitter, o.dtype, gen);
            }
            case NOISY_TOPK -> new NoisyTopKRouter(o.hiddenSize, o.numExperts, o.topK, capacity, o.dtype, gen, o.routerInitStd);
            case EXPERT_CHOICE -> new ExpertChoiceRouter(o.hiddenSize, o.numExperts, limited ? o.capacityFactor : 1.0, o.dtype, gen, o.routerInitStd);
            case HASH -> new HashRouter(o.hiddenSize, o.numExperts, o.seed, capacity);
            case TOP_P -> new TopPRouter(o.hiddenSize, o.numExperts, o.topP, o.topK, o.dtype, gen, o.routerInitStd);
            case NULL_EXPERTS -> new NullExpertRouter(o.hiddenSize, o.numExperts, o.numNullExperts, o.topK, o.renormalize, o.dtype, gen, o.routerInitStd);
        };
        return r.failOnNaN(o.failOnNaN);
    }

    // ------------------------------------------------------------------ forward

    /** {@link #forward(Tensor, long[])} without token ids. */
    @Override
    public Tensor forward(Tensor x) { return forward(x, null); }

    /**
     * The layer on x.
     *
     * @param x        [..., d] activations; all leading dims are tokens (for [B, S, d] the balance losses
     *                 treat each of the B rows as one sequence / group)
     * @param tokenIds [T] vocabulary ids of the tokens, needed by hash routing; else may be null
     * @return [..., d]
     * @throws IllegalArgumentException when the last dim is not d, or token ids are missing for hash routing
     */
    public Tensor forward(Tensor x, long[] tokenIds) {
        if (x.rank() < 1 || x.size(-1) != hiddenSize) {
            throw new IllegalArgumentException("MoE layer: input must be [..., d = " + hiddenSize + "], got " + Shape.str(x.shape()));
        }
        DeviceOps.requireCompute("MoE layer", "x", x);
        int[] shape = x.shape();
        int T = x.numel() / hiddenSize;
        Tensor x2 = F.reshape(x, T, hiddenSize);
        if (isTraining() && inputJitter > 0) {
            double[] u = new double[T * hiddenSize];
            for (int i = 0; i < u.length; i++) u[i] = 1 - inputJitter + 2 * inputJitter * jitterNoise.nextDouble();
            x2 = F.mul(x2, TensorArrays.wrap(u, T, hiddenSize).to(x.dtype()).to(x.device()));
        }
        Routing routing = router.route(x2, tokenIds);
        Tensor y = routedExperts(x2, routing);
        lastSharedGateLogits = null;
        if (shared != null) {
            Tensor s = shared.forward(x2);
            if (sharedGate != null) {
                lastSharedGateLogits = sharedGate.forward(x2);
                s = F.mul(F.sigmoid(lastSharedGateLogits), s);
            }
            y = F.add(y, s);
        }
        int groups = shape.length >= 3 ? T / Math.max(1, shape[shape.length - 2]) : 1;
        if (T == 0) groups = 1;
        computeLosses(routing, groups);
        lastRouting = routing;
        return F.reshape(y, shape);
    }

    /** permute &rarr; experts &rarr; combine for one routing. */
    private Tensor routedExperts(Tensor x2, Routing routing) {
        if (DeviceOps.onCuda(x2)) {
            DevicePlan plan = routing.devicePlan(x2.device());
            Tensor xPerm = new PermuteTokens(plan).apply(x2);
            Tensor yPerm = experts.forward(xPerm, plan.offsets());
            Tensor w = routing.weights().dtype() == DType.F32 ? routing.weights() : F.to(routing.weights(), DType.F32);
            return new CombineExperts(plan).apply(yPerm, w);
        }
        Tensor xPerm = new PermuteTokens(routing.plan()).apply(x2);
        Tensor yPerm = experts.forward(xPerm, routing.plan().offsets());
        Tensor w = routing.weights().dtype() == x2.dtype() ? routing.weights() : F.to(routing.weights(), x2.dtype());
        return new CombineExperts(routing.plan()).apply(yPerm, w);
    }

    private void computeLosses(Routing routing, int groups) {
        Map<String, Double> values = new LinkedHashMap<>();
        Tensor total = null;
        Tensor logits = routing.logits();
        int T = routing.numTokens();
        if (balancing.hasLoss() && logits != null && T > 0) {
            int cols = logits.size(1), k = routing.topK();
            int[] ids = routing.expertIds().clone();
            for (int p = 0; p < ids.length; p++) if (!routing.isSelected(p)) ids[p] = -1;
            Tensor grouped = F.reshape(logits, groups, T / groups, cols);
            if (balancing.auxLossCoef() > 0) {
                Tensor l = BalanceLosses.switchLoadBalancingFromLogits(grouped, ids, k);
                values.put("switch_aux", l.cpu().item());
                total = add(total, F.mul(l, balancing.auxLossCoef()));
            }
            if (balancing.zLossCoef() > 0) {
                Tensor l = BalanceLosses.zLoss(logits);
                values.put("z_loss", l.cpu().item());
                total = add(total, F.mul(l, balancing.zLossCoef()));
            }
            if (balancing.sequenceAuxCoef() > 0) {
                Tensor scores = router instanceof DeepSeekV3Router ? F.sigmoid(grouped) : F.softmax(grouped, -1);
                Tensor l = BalanceLosses.sequenceBalance(scores, ids, k);
                values.put("sequence_aux", l.cpu().item());
                total = add(total, F.mul(l, balancing.sequenceAuxCoef()));
            }
        }
        lastAuxLoss = total;
        lastReport = new RoutingReport(routing, values, total == null ? 0 : total.cpu().item());
    }

    private static Tensor add(Tensor a, Tensor b) { return a == null ? b : F.add(a, b); }

    // ------------------------------------------------------------------ after a forward

    /** The routing of the last forward. @throws IllegalStateException before the first forward */
    public Routing lastRouting() {
        if (lastRouting == null) throw new IllegalStateException("the MoE layer has not run a forward yet");
        return lastRouting;
    }

    /** The printable report of the last forward. @throws IllegalStateException before the first forward */
    public RoutingReport report() {
        if (lastReport == null) throw new IllegalStateException("the MoE layer has not run a forward yet");
        return lastReport;
    }

    /** Tokens (pairs) per expert in the last forward [E]. */
    public int[] lastLoad() { return lastRouting().load(); }

    /**
     * The weighted balance loss of the last forward (a 0-dim tensor in the autograd graph): add it to
     * the training loss. A constant 0 when no loss is configured or the router has no logits.
     */
    public Tensor auxLoss() {
        lastRouting();
        return lastAuxLoss != null ? lastAuxLoss : Tensor.scalar(experts.upProjection().dtype(), 0).to(experts.upProjection().device());
    }

    /** The shared expert gate's logits [T, 1] of the last forward (Qwen2-MoE), or null. */
    public Tensor lastSharedGateLogits() { return lastSharedGateLogits; }

    /**
     * The auxiliary-loss-free balancing step: {@code bias += u * sign(mean load - load)} from the load
     * of the last forward, outside the gradient. Call it after each optimizer step. Does nothing when
     * the bias update rate is 0.
     *
     * @throws IllegalStateException before the first forward
     */
    public void updateSelectionBias() {
        if (balancing.biasUpdateRate() == 0) return;
        LossFreeBalancer.update(router.selectionBias(), lastLoad(), balancing.biasUpdateRate());
    }

    // ------------------------------------------------------------------ parts

    /** The router. */
    public Router router() { return router; }

    /** The routed experts. */
    public GroupedExperts experts() { return experts; }

    /** The shared expert, or null. */
    public SharedExpert sharedExpert() { return shared; }

    /** The shared expert's sigmoid gate [1, d], or null. */
    public Linear sharedExpertGate() { return sharedGate; }

    /** The balancing configuration. */
    public Balancing balancing() { return balancing; }

    /** d. */
    public int hiddenSize() { return hiddenSize; }

    @Override
    protected String describe() {
        return "d=" + hiddenSize + ", balancing=" + balancing;
    }
}
