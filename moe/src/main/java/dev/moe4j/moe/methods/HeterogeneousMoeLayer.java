package dev.moe4j.moe.methods;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.RoutingReport;
import dev.moe4j.moe.balance.ParameterPenaltyLoss;
import dev.moe4j.moe.experts.HeterogeneousExperts;
import dev.moe4j.moe.ops.DeviceOps;
import dev.moe4j.moe.routing.Router;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An HMoE layer (Wang et al., "HMoE: Heterogeneous Mixture of Experts for Language Modeling"): any
 * token-choice router (softmax top-k, or dynamic top-p as the paper also uses) in front of
 * {@link HeterogeneousExperts}, with the {@link ParameterPenaltyLoss} that favours the small experts.
 * <pre>
 *   x [..., d] -&gt; T token rows
 *   routing = router.route(x)                      ids, weights [T, k], plan
 *   y       = combine(experts(permute(x)), weights) [T, d]; expert e has its own width f_e
 *   auxLoss = coef * E sum_e (s_e / s_mean) f_e P_e  (s_e: parameters of expert e)
 * </pre>
 * After a forward the layer keeps the routing, a {@link RoutingReport} with the penalty, and the
 * mean number of expert parameters a token activated ({@link #lastActivatedParameters()}, the
 * efficiency HMoE measures).
 *
 * <p>On a CUDA device (after {@code to(device)}; F32, or BF16 with BF16 parameters) routing, dispatch,
 * the experts and the penalty run there ({@link Dispatch}, {@link ParameterPenaltyLoss}); the host
 * keeps the per-expert row offsets and the load.
 */
public final class HeterogeneousMoeLayer extends Module {
    private final Router router;
    private final HeterogeneousExperts experts;
    private final double penaltyCoef;

    private Routing lastRouting;
    private RoutingReport lastReport;
    private Tensor lastAuxLoss;
    private double lastActivated;

    /**
     * @param router      the router (E outputs, reads d); registered as {@code gate}
     * @param experts     the experts of different sizes
     * @param penaltyCoef weight of the parameter penalty loss (0: off)
     * @throws IllegalArgumentException when router and experts disagree on E or d, or the coefficient is
     *         negative or not finite
     */
    public HeterogeneousMoeLayer(Router router, HeterogeneousExperts experts, double penaltyCoef) {
        if (router == null || experts == null) throw new IllegalArgumentException("an HMoE layer needs a router and experts");
        if (router.numExperts() != experts.numExperts() || router.hiddenSize() != experts.hiddenSize()) {
            throw new IllegalArgumentException("router (E = " + router.numExperts() + ", d = " + router.hiddenSize() + ") does not fit the experts (E = "
                    + experts.numExperts() + ", d = " + experts.hiddenSize() + ")");
        }
        if (!(penaltyCoef >= 0) || Double.isInfinite(penaltyCoef)) throw new IllegalArgumentException("penalty coefficient must be finite and >= 0, got " + penaltyCoef);
        this.router = registerModule("gate", router);
        this.experts = registerModule("experts", experts);
        this.penaltyCoef = penaltyCoef;
    }

    /** {@link #forward(Tensor, long[])} without token ids. */
    @Override
    public Tensor forward(Tensor x) { return forward(x, null); }

    /**
     * The layer on x.
     *
     * @param x        [..., d]
     * @param tokenIds [T] token ids for routers that need them, else null
     * @return [..., d]
     * @throws IllegalArgumentException when the last dim is not d
     */
    public Tensor forward(Tensor x, long[] tokenIds) {
        int d = experts.hiddenSize();
        if (x.rank() < 1 || x.size(-1) != d) throw new IllegalArgumentException("HMoE layer: input must be [..., d = " + d + "], got " + Shape.str(x.shape()));
        DeviceOps.requireCompute("HMoE layer", "x", x);
        int T = x.numel() / d;
        Tensor x2 = F.reshape(x, T, d);
        Routing routing = router.route(x2, tokenIds);
        Tensor y = Dispatch.through(x2, routing, experts::forward);

        double[] sizes = experts.parameterCounts();
        Map<String, Double> losses = new LinkedHashMap<>();
        lastAuxLoss = null;
        if (penaltyCoef > 0 && routing.logits() != null && T > 0) {
            Tensor p = ParameterPenaltyLoss.of(routing, sizes);
            losses.put("parameter_penalty", p.item());
            lastAuxLoss = F.mul(p, penaltyCoef);
        }
        double activated = 0;
        int[] load = routing.load();
        for (int e = 0; e < load.length; e++) activated += load[e] * sizes[e];
        lastActivated = T == 0 ? 0 : activated / T;
        lastRouting = routing;
        lastReport = new RoutingReport(routing, losses, lastAuxLoss == null ? 0 : lastAuxLoss.item());
        return F.reshape(y, x.shape());
    }

    /** The routing of the last forward. @throws IllegalStateException before the first forward */
    public Routing lastRouting() {
        if (lastRouting == null) throw new IllegalStateException("the HMoE layer has not run a forward yet");
        return lastRouting;
    }

    /** The report of the last forward. @throws IllegalStateException before the first forward */
    public RoutingReport report() {
        lastRouting();
        return lastReport;
    }

    /** The weighted parameter penalty of the last forward (0-dim, in the graph); a constant 0 when off. */
    public Tensor auxLoss() {
        lastRouting();
        Tensor w = experts.downProjection(0);
        return lastAuxLoss != null ? lastAuxLoss : Tensor.zeros(w.dtype(), w.device());
    }

    /** Mean expert parameters each token of the last forward went through (processed pairs only). */
    public double lastActivatedParameters() {
        lastRouting();
        return lastActivated;
    }

    /** The router. */
    public Router router() { return router; }

    /** The experts. */
    public HeterogeneousExperts experts() { return experts; }

    /** The penalty coefficient. */
    public double penaltyCoef() { return penaltyCoef; }

    @Override
    protected String describe() { return "d=" + experts.hiddenSize() + ", penalty=" + penaltyCoef; }
}
