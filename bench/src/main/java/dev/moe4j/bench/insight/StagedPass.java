package dev.moe4j.bench.insight;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradMode;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.balance.BalanceLosses;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.ops.CombineExperts;
import dev.moe4j.moe.ops.ExpertActivationFunction;
import dev.moe4j.moe.ops.GroupedLinear;
import dev.moe4j.moe.ops.PermuteTokens;
import dev.moe4j.moe.routing.DeepSeekV3Router;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One pass of an {@link MoeLayer}, run stage by stage with the layer's own kernels and functions,
 * so that every intermediate tensor, gradient and stage time can be looked at:
 * <pre>
 *   1. router      routing = router.route(x)             logits [T, E'], scores, ids and weights [T, k], plan
 *   2. plan        histogram, offsets, permutation, dropped pairs (built by the router)
 *      permute     xPerm = x[token(r)]                   [R, d]      Permute.permute
 *   3. experts     h = grouped GEMM(xPerm, gate_up_proj)  [R, 2f]    GroupedGemm.forward
 *                  a = act(h_gate) * h_up                 [R, f]     ExpertActivationFunction
 *                  yPerm = grouped GEMM(a, down_proj)     [R, d]     GroupedGemm.forward
 *   4. combine     y[t] = sum_j w[t, j] yPerm[row(t, j)]  [T, d]     Combine.combine
 *      shared      y += shared(x) (* sigmoid(x w_g))      (when the layer has a shared expert)
 *   5. balance     the balance losses on the logits / scores
 *   6. backward    the same stages in reverse, each on its own (see {@link #backward})
 * </pre>
 * When the experts have a forward override ({@link GroupedExperts#setForwardOverride}, as LoRA on
 * the experts installs), stage 3 is that override, run as one stage on the same rows and offsets,
 * exactly as {@link MoeLayer#forward} calls it; h and a are then not kept.
 * Each stage reads the previous stage's output through a fresh leaf tensor (a detached copy that
 * requires a gradient), so the backward can run, and be timed, one stage at a time: the gradient
 * a stage's backward delivers to its input leaf is handed to the previous stage. The result is
 * the same as {@link MoeLayer#forward} and one {@code Autograd.backward} through it (the layer's
 * input jitter is not applied; run the layer in eval mode, or with jitter 0, to compare).
 *
 * <p>In JShell:
 * <pre>{@code
 * var pass = StagedPass.forward(layer, x, null);
 * pass.router()      // logits, scores, chosen experts
 * pass.plan()        // histogram, offsets, permutation, dropped pairs
 * pass.backward(dy); pass.backwardSteps();
 * pass.follow(3)     // token 3 through every stage
 * }</pre>
 */
public final class StagedPass {
    /** Stage names, shared by the forward and the backward entries of {@link StageTimes}. */
    public static final String ROUTER = "router (logits, gating, plan)", BALANCE = "balance losses", PERMUTE = "permute",
            GEMM_UP = "grouped GEMM up", ACTIVATION = "activation", GEMM_DOWN = "grouped GEMM down", COMBINE = "combine", SHARED = "shared expert",
            EXPERTS_OVERRIDE = "experts (override)";

    private final MoeLayer layer;
    private final int[] inputShape;
    private final int numTokens, hiddenSize;
    private final DType dtype;
    private final int groups;
    private final Tensor x2, xRouter, xExperts, xShared;
    private final Routing routing;
    private final Tensor logits;
    private final Tensor xPerm, xPermLeaf, h, hLeaf, a, aLeaf, yPerm, yPermLeaf, wLeaf, yRouted, sharedOut, y;
    private final Tensor auxLoss;
    private final Map<String, Double> lossValues = new LinkedHashMap<>(), coefficients = new LinkedHashMap<>();
    private final StageTimes times = new StageTimes();
    private final String suffix;
    private int shown = 16;

    private BackwardView backwardView;
    private Tensor dy, dx, dxRouter, dxExperts, dxSharedPath, dyPerm, dw, dlogits, dlogitsBalance;

    private StagedPass(MoeLayer layer, Tensor x, long[] tokenIds, boolean displayLosses) {
        if (layer == null || x == null) throw new IllegalArgumentException("a staged pass needs a layer and an input");
        if (!GradMode.isEnabled()) {
            throw new IllegalStateException("a staged pass records the autograd graph; it cannot run inside NoGrad");
        }
        int d = layer.hiddenSize();
        if (x.rank() < 1 || x.size(-1) != d) {
            throw new IllegalArgumentException("staged pass: input must be [..., d = " + d + "], got " + Fmt.shape(x.shape()));
        }
        if (x.dtype() != DType.F32 && x.dtype() != DType.F64) {
            throw new IllegalArgumentException("staged pass: input must be F32 or F64, got " + x.dtype());
        }
        this.layer = layer;
        this.inputShape = x.shape();
        this.hiddenSize = d;
        this.numTokens = x.numel() / d;
        this.dtype = x.dtype();
        this.suffix = dtype == DType.F64 ? " (float64 reference)" : "";
        int T = numTokens;
        int g = inputShape.length >= 3 ? T / Math.max(1, inputShape[inputShape.length - 2]) : 1;
        this.groups = T == 0 ? 1 : g;
        this.x2 = x.contiguous().reshape(T, d).detach();
        GroupedExperts experts = layer.experts();

        // 1. router (its logits GEMM, gating and the routing plan)
        xRouter = leaf(x2);
        long t0 = System.nanoTime();
        routing = layer.router().route(xRouter, tokenIds);
        times.record(ROUTER, "linear + Gating + Plans.build", false, System.nanoTime() - t0);
        logits = routing.logits();
        if (logits != null && logits.requiresGrad()) logits.retainGrad();

        // 5. balance losses (computed here, where MoeLayer computes them; printed after the combine)
        t0 = System.nanoTime();
        auxLoss = balanceLosses(displayLosses);
        times.record(BALANCE, "LoadBalancingLoss / RouterZLoss / SequenceBalanceLoss", false, System.nanoTime() - t0);

        // 2. permute
        int[] offsets = routing.plan().offsets();
        xExperts = leaf(x2);
        t0 = System.nanoTime();
        xPerm = new PermuteTokens(routing.plan()).apply(xExperts);
        times.record(PERMUTE, "Permute.permute" + suffix, false, System.nanoTime() - t0);

        // 3. grouped GEMMs and the activation (or the experts' forward override, e.g. LoRA on the experts, as one stage)
        xPermLeaf = leaf(xPerm);
        if (experts.forwardOverride() != null) {
            h = hLeaf = a = aLeaf = null;
            t0 = System.nanoTime();
            yPerm = experts.forwardOverride().apply(xPermLeaf, offsets);
            times.record(EXPERTS_OVERRIDE, "the experts' forward override (grouped GEMMs)", false, System.nanoTime() - t0);
        } else {
            t0 = System.nanoTime();
            h = new GroupedLinear(offsets).apply(xPermLeaf, experts.upProjection());
            times.record(GEMM_UP, "GroupedGemm.forward", false, System.nanoTime() - t0);
            hLeaf = leaf(h);
            t0 = System.nanoTime();
            a = new ExpertActivationFunction(experts.activation(), experts.gated()).apply(hLeaf);
            times.record(ACTIVATION, activationName(), false, System.nanoTime() - t0);
            aLeaf = leaf(a);
            t0 = System.nanoTime();
            yPerm = new GroupedLinear(offsets).apply(aLeaf, experts.downProjection());
            times.record(GEMM_DOWN, "GroupedGemm.forward", false, System.nanoTime() - t0);
        }

        // 4. combine
        yPermLeaf = leaf(yPerm);
        wLeaf = leaf(routing.weights());
        t0 = System.nanoTime();
        Tensor w = wLeaf.dtype() == dtype ? wLeaf : F.to(wLeaf, dtype);
        yRouted = new CombineExperts(routing.plan()).apply(yPermLeaf, w);
        times.record(COMBINE, "Combine.combine" + suffix, false, System.nanoTime() - t0);

        // shared expert
        if (layer.sharedExpert() != null) {
            xShared = leaf(x2);
            t0 = System.nanoTime();
            Tensor s = layer.sharedExpert().forward(xShared);
            if (layer.sharedExpertGate() != null) s = F.mul(F.sigmoid(layer.sharedExpertGate().forward(xShared)), s);
            sharedOut = s;
            times.record(SHARED, "dense SwiGLU MLP (GEMMs)", false, System.nanoTime() - t0);
            y = yRouted.detach().add(sharedOut.detach()).reshape(inputShape);
        } else {
            xShared = null;
            sharedOut = null;
            y = yRouted.detach().reshape(inputShape);
        }
    }

    /**
     * Runs the forward stage by stage.
     *
     * @param layer    the layer (its parameters are used, not copied)
     * @param x        [..., d] input, F32 or F64; all leading dims are tokens
     * @param tokenIds [T] vocabulary ids (hash routing needs them), or null
     * @throws IllegalArgumentException when x does not fit the layer, or the router rejects the input
     * @throws IllegalStateException inside a {@code NoGrad} scope
     */
    public static StagedPass forward(MoeLayer layer, Tensor x, long[] tokenIds) {
        return new StagedPass(layer, x, tokenIds, true);
    }

    /**
     * A forward and backward pass that computes only the balance losses the layer trains on, for
     * timing: returns the stage times. The gradients of the layer's parameters are left set (the
     * caller clears them); the layer's own state (last routing, bias) is not touched.
     *
     * @param dy [..., d] upstream gradient, the shape of x
     */
    public static StageTimes timed(MoeLayer layer, Tensor x, long[] tokenIds, Tensor dy) {
        StagedPass p = new StagedPass(layer, x, tokenIds, false);
        p.backward(dy);
        return p.times;
    }

    private static Tensor leaf(Tensor t) {
        return t.detach().setRequiresGrad(true);
    }

    private String activationName() {
        GroupedExperts e = layer.experts();
        String act = e.activation().name().toLowerCase(java.util.Locale.ROOT);
        return e.gated() ? act + "(gate) * up" : act + "(h)";
    }

    /** The balance losses as MoeLayer computes them; returns the weighted sum (null when none is trained on). */
    private Tensor balanceLosses(boolean display) {
        Balancing b = layer.balancing();
        if (logits == null || numTokens == 0) return null;
        int cols = logits.size(1), k = routing.topK();
        int[] ids = routing.expertIds().clone();
        for (int p = 0; p < ids.length; p++) if (!routing.isSelected(p)) ids[p] = -1;
        Tensor grouped = F.reshape(logits, groups, numTokens / groups, cols);
        Tensor total = null;
        if (display || b.auxLossCoef() > 0) {
            Tensor l = BalanceLosses.switchLoadBalancingFromLogits(grouped, ids, k);
            total = term("switch_aux", l, b.auxLossCoef(), total);
        }
        if (display || b.zLossCoef() > 0) {
            total = term("z_loss", BalanceLosses.zLoss(logits), b.zLossCoef(), total);
        }
        if (display || b.sequenceAuxCoef() > 0) {
            Tensor scores = layer.router() instanceof DeepSeekV3Router ? F.sigmoid(grouped) : F.softmax(grouped, -1);
            total = term("sequence_aux", BalanceLosses.sequenceBalance(scores, ids, k), b.sequenceAuxCoef(), total);
        }
        return total;
    }

    private Tensor term(String name, Tensor loss, double coef, Tensor total) {
        lossValues.put(name, loss.item());
        coefficients.put(name, coef);
        if (coef == 0) return total;
        Tensor weighted = F.mul(loss, coef);
        return total == null ? weighted : F.add(total, weighted);
    }

    // ------------------------------------------------------------------ backward

    /**
     * Runs the backward stage by stage with upstream gradient dy (for a loss L, dy = dL/dy): combine,
     * the down GEMM, the activation, the up GEMM, permute, the balance losses (whose gradient is
     * added once, with the coefficient), the router, the shared expert. Clears the gradients of the
     * layer's parameters first, so that afterwards they hold this pass's gradients.
     *
     * @param upstream [..., d] the shape of x
     * @return this
     * @throws IllegalArgumentException for a gradient of another shape
     * @throws IllegalStateException when the backward already ran
     */
    public StagedPass backward(Tensor upstream) {
        if (backwardView != null) throw new IllegalStateException("the backward of this pass already ran");
        if (upstream == null || !java.util.Arrays.equals(upstream.shape(), inputShape)) {
            throw new IllegalArgumentException("backward: upstream gradient must have the input's shape " + Fmt.shape(inputShape) + ", got "
                    + (upstream == null ? "null" : Fmt.shape(upstream.shape())));
        }
        for (Tensor p : layer.parameters()) p.setGrad(null);
        int T = numTokens, d = hiddenSize, k = routing.topK(), R = routing.plan().numRows();
        Tensor g = upstream.contiguous().reshape(T, d).detach();
        if (g.dtype() != dtype) g = g.to(dtype);
        dy = g;
        List<BackwardView.Step> steps = new ArrayList<>();
        GroupedExperts experts = layer.experts();

        long t0 = System.nanoTime();
        Autograd.backward(yRouted, g);
        long t = step(COMBINE, "Combine.combineBackward" + suffix, t0);
        dyPerm = yPermLeaf.grad();
        dw = wLeaf.grad();
        steps.add(new BackwardView.Step(COMBINE, "Combine.combineBackward" + suffix, "dy " + shape(g),
                "dyPerm " + describe(dyPerm) + " = w * dy[token]; dw " + describe(dw) + " = <dy, yPerm row>", t));

        Tensor dxPerm;
        if (hLeaf == null) {
            t0 = System.nanoTime();
            Autograd.backward(yPerm, dyPerm);
            t = step(EXPERTS_OVERRIDE, "the override's backward (grouped GEMMs)", t0);
            dxPerm = xPermLeaf.grad();
            steps.add(new BackwardView.Step(EXPERTS_OVERRIDE, "the override's backward (grouped GEMMs)", "dyPerm " + shape(dyPerm),
                    "dxPerm " + describe(dxPerm) + "; d down_proj " + describe(experts.downProjection().grad()) + ", d "
                            + (experts.gated() ? "gate_up_proj " : "up_proj ") + describe(experts.upProjection().grad()), t));
        } else {
            t0 = System.nanoTime();
            Autograd.backward(yPerm, dyPerm);
            t = step(GEMM_DOWN, "GroupedGemm.backwardInput + backwardWeight", t0);
            Tensor da = aLeaf.grad();
            steps.add(new BackwardView.Step(GEMM_DOWN, "GroupedGemm.backwardInput + backwardWeight", "dyPerm " + shape(dyPerm),
                    "da " + describe(da) + "; d down_proj " + describe(experts.downProjection().grad()), t));

            t0 = System.nanoTime();
            Autograd.backward(a, da);
            t = step(ACTIVATION, activationName() + " backward", t0);
            Tensor dh = hLeaf.grad();
            steps.add(new BackwardView.Step(ACTIVATION, activationName() + " backward", "da " + shape(da), "dh " + describe(dh), t));

            t0 = System.nanoTime();
            Autograd.backward(h, dh);
            t = step(GEMM_UP, "GroupedGemm.backwardInput + backwardWeight", t0);
            dxPerm = xPermLeaf.grad();
            steps.add(new BackwardView.Step(GEMM_UP, "GroupedGemm.backwardInput + backwardWeight", "dh " + shape(dh),
                    "dxPerm " + describe(dxPerm) + "; d " + (experts.gated() ? "gate_up_proj " : "up_proj ") + describe(experts.upProjection().grad()), t));
        }

        t0 = System.nanoTime();
        Autograd.backward(xPerm, dxPerm);
        t = step(PERMUTE, "Permute.permuteBackward" + suffix + " (unpermute-sum)", t0);
        dxExperts = xExperts.grad();
        steps.add(new BackwardView.Step(PERMUTE, "Permute.permuteBackward (unpermute-sum)" + suffix, "dxPerm " + shape(dxPerm),
                "dx via experts " + describe(dxExperts) + " = sum of the token's rows", t));

        boolean routerGrad = routing.weights().requiresGrad();
        if (auxLoss != null && auxLoss.requiresGrad()) {
            t0 = System.nanoTime();
            Autograd.backward(auxLoss, null, routerGrad);
            t = step(BALANCE, "loss backward -> softmax/sigmoid backward", t0);
            dlogitsBalance = logits.grad() == null ? null : logits.grad().copy();
            steps.add(new BackwardView.Step(BALANCE, "loss backward -> softmax/sigmoid backward", "1 (weighted sum " + Fmt.num(auxLoss.item()) + ")",
                    "dlogits (balance part) " + describe(dlogitsBalance), t));
        }
        if (routerGrad) {
            t0 = System.nanoTime();
            Autograd.backward(routing.weights(), dw);
            t = step(ROUTER, "Gating.backward, then linear backward (GEMM)", t0);
            dlogits = logits == null ? null : logits.grad();
            steps.add(new BackwardView.Step(ROUTER, "Gating.backward, then linear backward (GEMM)", "dw " + shape(dw),
                    (dlogits == null ? "" : "dlogits " + describe(dlogits) + "; ") + "dx via router " + describe(xRouter.grad()) + "; d router weight", t));
        } else if (dlogitsBalance != null) {
            dlogits = dlogitsBalance;
        }
        dxRouter = xRouter.grad();
        if (sharedOut != null) {
            t0 = System.nanoTime();
            Autograd.backward(sharedOut, g);
            t = step(SHARED, "dense MLP backward (GEMMs)", t0);
            dxSharedPath = xShared.grad();
            steps.add(new BackwardView.Step(SHARED, "dense MLP backward (GEMMs)", "dy " + shape(g), "dx via shared expert " + describe(dxSharedPath), t));
        }
        Tensor sum = dxExperts;
        if (dxRouter != null) sum = sum.add(dxRouter);
        if (dxSharedPath != null) sum = sum.add(dxSharedPath);
        dx = sum.reshape(inputShape);
        String how = "dx [T, d] = dx via experts (permute)" + (dxRouter != null ? " + dx via router (logits)" : "")
                + (dxSharedPath != null ? " + dx via shared expert" : "") + ";  |dx| = " + Fmt.num(norm(dx))
                + "; router ids and the plan are piecewise constant: no gradient flows through the choice itself";
        backwardView = new BackwardView(steps, how);
        return this;
    }

    /** Backward with a seeded random upstream gradient dy ~ N(0, 1) of the input's shape. */
    public StagedPass backwardRandom(long seed) {
        return backward(Tensor.randn(new Generator(seed), dtype, inputShape));
    }

    private long step(String stage, String kernel, long t0) {
        long t = System.nanoTime() - t0;
        times.record(stage, kernel, true, t);
        return t;
    }

    private static String shape(Tensor t) {
        return t == null ? "(none)" : Fmt.shape(t.shape());
    }

    private static String describe(Tensor t) {
        return t == null ? "(none)" : Fmt.shape(t.shape()) + " |" + Fmt.num(norm(t)) + "|";
    }

    private static double norm(Tensor t) {
        double[] v = t.toDoubleArray();
        return Fmt.norm(v, 0, v.length);
    }

    // ------------------------------------------------------------------ views

    /** Sets how many tokens / rows the tables print (default 16). Returns this. */
    public StagedPass shown(int rows) {
        if (rows < 1) throw new IllegalArgumentException("rows shown must be >= 1, got " + rows);
        this.shown = rows;
        return this;
    }

    /** The layer. */
    public MoeLayer layer() { return layer; }

    /** The routing (expert ids, weights, logits, scores, plan). */
    public Routing routing() { return routing; }

    /** T, the number of tokens. */
    public int numTokens() { return numTokens; }

    /** Stage 1: logits, scores, chosen experts and weights. */
    public RouterView router() { return new RouterView(routing, shown); }

    /** Stage 2: histogram, offsets, permutation, dropped pairs. */
    public PlanView plan() { return new PlanView(routing, shown); }

    /** Whether the experts ran through their forward override ({@link GroupedExperts#forwardOverride}) as one stage. */
    public boolean expertsOverridden() { return hLeaf == null; }

    /** Stage 3: the grouped GEMM problem list. */
    public GemmProblems gemm() {
        GroupedExperts e = layer.experts();
        return new GemmProblems(routing.plan().counts(), e.hiddenSize(), e.intermediateSize(), e.gated());
    }

    /** Stage 4: the combine. */
    public CombineView combine() {
        return new CombineView(routing.plan(), routing.weights().toDoubleArray(), yPerm.toDoubleArray(), yRouted.toDoubleArray(), hiddenSize, shown);
    }

    /** Stage 5: balance losses, load statistics, selection bias. */
    public BalanceView balance() {
        return new BalanceView(lossValues, coefficients, auxLoss == null ? 0 : auxLoss.item(), routing.load(), routing.selectionBias(),
                layer.balancing().biasUpdateRate(), RoutingStats.meanTokenEntropy(routing));
    }

    /**
     * Stage 6: the backward steps.
     *
     * @throws IllegalStateException before {@link #backward}
     */
    public BackwardView backwardSteps() {
        requireBackward();
        return backwardView;
    }

    private void requireBackward() {
        if (backwardView == null) throw new IllegalStateException("run backward(dy) or backwardRandom(seed) first");
    }

    /** Whether the backward ran. */
    public boolean hasBackward() { return backwardView != null; }

    /** The stage times so far (forward, and backward once it ran). */
    public StageTimes times() { return times; }

    /** The layer's output y [..., d] (routed experts plus shared expert). */
    public Tensor output() { return y; }

    /** The routed part of the output [T, d]. */
    public Tensor routedOutput() { return yRouted.detach(); }

    /** Expert outputs in permuted order yPerm [R, d]. */
    public Tensor expertOutputs() { return yPerm.detach(); }

    /** Permuted inputs xPerm [R, d]. */
    public Tensor permutedInput() { return xPerm.detach(); }

    /** The balance losses' weighted sum (0-dim, in the graph), or null when none is trained on. */
    public Tensor auxLoss() { return auxLoss; }

    /** dL/dx [..., d] (all paths summed). @throws IllegalStateException before {@link #backward} */
    public Tensor inputGrad() {
        requireBackward();
        return dx;
    }

    /** dL/dlogits [T, E'] (gate weights and balance losses), or null. @throws IllegalStateException before {@link #backward} */
    public Tensor logitsGrad() {
        requireBackward();
        return dlogits;
    }

    /** dL/dw [T, k], the gradient of the gate weights. @throws IllegalStateException before {@link #backward} */
    public Tensor gateWeightsGrad() {
        requireBackward();
        return dw;
    }

    /** The norms of each expert's weight gradients, after {@link #backward}: experts without rows get none. */
    public TextTable weightGradients() {
        requireBackward();
        GroupedExperts e = layer.experts();
        double[] up = e.upProjection().grad() == null ? null : e.upProjection().grad().toDoubleArray();
        double[] down = e.downProjection().grad() == null ? null : e.downProjection().grad().toDoubleArray();
        int E = e.numExperts(), upSize = e.upProjection().numel() / E, downSize = e.downProjection().numel() / E;
        TextTable t = new TextTable("expert", "rows", "|d " + (e.gated() ? "gate_up_proj" : "up_proj") + "[e]|", "|d down_proj[e]|");
        t.title("weight gradients per expert (dW_e = dY_e^T X_e over the expert's rows only)");
        for (int i = 0; i < E; i++) {
            t.row(i, routing.plan().counts()[i], up == null ? "-" : Fmt.num(Fmt.norm(up, i * upSize, upSize)),
                    down == null ? "-" : Fmt.num(Fmt.norm(down, i * downSize, downSize)));
        }
        return t;
    }

    /**
     * One token through every stage.
     *
     * @throws IndexOutOfBoundsException for a token outside [0, T)
     */
    public TokenTrace follow(int token) {
        if (token < 0 || token >= numTokens) {
            throw new IndexOutOfBoundsException("token " + token + " is outside [0, T = " + numTokens + "); accepted: 0.." + (numTokens - 1));
        }
        return TokenTrace.of(this, token);
    }

    // package-private access for TokenTrace
    int hiddenSize() { return hiddenSize; }
    double[] inputRow(int t) { return row(x2, t); }
    double[] row(Tensor m, int r) {
        int c = m.size(1);
        double[] out = new double[c];
        double[] all = m.toDoubleArray();
        System.arraycopy(all, r * c, out, 0, c);
        return out;
    }
    Tensor hidden() { return h; }
    Tensor activated() { return a; }
    Tensor upstream() { return dy; }
    Tensor dyPermTensor() { return dyPerm; }
    Tensor dxExpertsTensor() { return dxExperts; }
    Tensor dxRouterTensor() { return dxRouter; }
    Tensor dxSharedTensor() { return dxSharedPath; }
    Tensor sharedOutput() { return sharedOut; }

    /** Everything: the input, each forward stage, the backward (when it ran) and the stage times. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        GroupedExperts e = layer.experts();
        b.append("MoE layer, stage by stage: T = ").append(numTokens).append(" tokens, d = ").append(hiddenSize).append(", E = ")
                .append(e.numExperts()).append(", k = ").append(routing.topK()).append(", f = ").append(e.intermediateSize()).append(", ")
                .append(dtype).append(layer.sharedExpert() != null ? ", with a shared expert" : "").append("\n\n");
        b.append(router()).append('\n');
        b.append(plan()).append('\n');
        b.append(gemm());
        if (h != null) b.append("   activation ").append(activationName()).append(": h ").append(shape(h)).append(" -> a ").append(shape(a)).append('\n').append('\n');
        else b.append("   the experts run through their forward override (up GEMM, activation, down GEMM inside it): xPerm ").append(shape(xPerm))
                .append(" -> yPerm ").append(shape(yPerm)).append('\n').append('\n');
        b.append(combine());
        if (sharedOut != null) b.append("   + shared expert output ").append(describe(sharedOut)).append('\n');
        b.append('\n').append(balance()).append('\n');
        if (backwardView != null) b.append(backwardView).append('\n').append(weightGradients()).append('\n');
        b.append(times);
        return b.toString();
    }
}
