package dev.moe4j.lora.cuda;

import static dev.moe4j.lora.cuda.DeviceTestSupport.assertCloseOn;
import static dev.moe4j.lora.cuda.DeviceTestSupport.assertGradsCloseOn;
import static dev.moe4j.lora.cuda.DeviceTestSupport.rounded;
import static dev.moe4j.lora.cuda.DeviceTestSupport.tolerance;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.autograd.nn.SwiGLUMlp;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.lora.AdaMoleLinear;
import dev.moe4j.lora.AdapterSpec;
import dev.moe4j.lora.DynMoleLinear;
import dev.moe4j.lora.ExpertAllocation;
import dev.moe4j.lora.LoraEnsembleLinear;
import dev.moe4j.lora.LoraExpertBank;
import dev.moe4j.lora.LoraInit;
import dev.moe4j.lora.LoraMixtureLinear;
import dev.moe4j.lora.LoraMixtureModel;
import dev.moe4j.lora.LoraMoeLinear;
import dev.moe4j.lora.MiLoraLayer;
import dev.moe4j.lora.MixLoraLinear;
import dev.moe4j.lora.MixtureOfRoutersLinear;
import dev.moe4j.lora.ModulePattern;
import dev.moe4j.lora.PromptRouter;
import dev.moe4j.lora.SMoreLinear;
import dev.moe4j.lora.SiraLinear;
import dev.moe4j.lora.TsallisEntropy;
import dev.moe4j.lora.merge.LoraMerge;
import dev.moe4j.lora.merge.LowRankUpdate;
import dev.moe4j.lora.merge.UpcycledLinearMoe;
import dev.moe4j.lora.merge.Upcycling;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.Routing;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The mixtures of LoRA experts, merging and upcycling, each run twice on one input: built on the
 * CPU from a seed, once in F32 as the reference and once in the dtype under test with the same
 * (rounded) values moved to the target device; forward and backward of {@code sum(y * dy) + aux}
 * on both, then outputs, input gradients, auxiliary losses, routing decisions and every parameter
 * gradient are compared. Routing inputs are built with {@link Tokens} so that every discrete choice
 * leads by a margin that bf16 rounding cannot cross (checked on the CPU before the comparison).
 *
 * <p>The target is a CUDA device in {@link LoraMixturesCudaTest} and the CPU in
 * {@link LoraMixturesCpuPathTest} (F32 only), which runs the same code without a GPU and checks that
 * CPU tensors stay on the CPU path.
 */
final class MixtureCases {
    static final int IN = 48, OUT = 40;
    static final AdapterSpec SPEC = AdapterSpec.of(4, 8).withInit(LoraInit.RANDOM);

    /**
     * Dropout probability for the tests in {@code dtype}: masks are drawn in the activation's dtype, and
     * a bf16 draw can land on the other side of p than the F32 reference's, so bf16 runs without it.
     */
    static double dropout(DType dtype, double p) { return dtype == DType.F32 ? p : 0; }

    final Device target;

    MixtureCases(Device target) { this.target = target; }

    // ------------------------------------------------------------------ the harness

    /** The F32 reference on the CPU and the copy under test on the target. */
    record Pair<M extends Module>(M cpu, M device) {}

    /** Builds the module in {@code dtype} (then {@code prepare}), an F32 copy with its values, and moves the first to the target. */
    <M extends Module> Pair<M> pair(DType dtype, Function<DType, M> make, Consumer<M> prepare) {
        return pair(dtype, make, prepare, m -> m.to(target));
    }

    <M extends Module> Pair<M> pair(DType dtype, Function<DType, M> make, Consumer<M> prepare, Consumer<M> move) {
        M device = make.apply(dtype);
        if (prepare != null) prepare.accept(device);
        M cpu = make.apply(DType.F32);
        cpu.loadStateDict(device.stateDict(), true);
        move.accept(device);
        return new Pair<>(cpu, device);
    }

    /** What one side computed: output, input gradient, auxiliary loss (or null). */
    record Side(Tensor y, Tensor dx, Tensor aux) {}

    private static Side run(Tensor x, Function<Tensor, Tensor> forward, Supplier<Tensor> aux, Function<int[], Tensor> dy) {
        Tensor y = forward.apply(x);
        Tensor a = aux == null ? null : aux.get();
        Tensor loss = F.sum(F.mul(y, dy.apply(y.shape())));
        if (a != null) loss = F.add(loss, a.dtype() == loss.dtype() ? a : F.to(a, loss.dtype()));
        Autograd.backward(loss);
        return new Side(y, x.grad(), a);
    }

    /**
     * Forward and backward of {@code sum(y * dy) + aux} on both sides with the same x (rounded to
     * dtype) and dy; compares output, input gradient, auxiliary loss and every parameter gradient.
     */
    void compare(DType dtype, Module cpu, Module device, Tensor x, Function<Tensor, Tensor> cpuForward, Function<Tensor, Tensor> deviceForward,
                 Supplier<Tensor> cpuAux, Supplier<Tensor> deviceAux) {
        compare(dtype, cpu, device, x, cpuForward, deviceForward, cpuAux, deviceAux, name -> gradTolerance(dtype, name), java.util.Set.of());
    }

    /**
     * {@link #compare} with a tolerance per parameter name, and the names of parameters whose gradient
     * is zero in exact arithmetic (both sides then hold rounding residue, which no relative comparison
     * can judge): those must be below 1e-5 of the largest gradient of the other parameters, on both sides.
     */
    void compare(DType dtype, Module cpu, Module device, Tensor x, Function<Tensor, Tensor> cpuForward, Function<Tensor, Tensor> deviceForward,
                 Supplier<Tensor> cpuAux, Supplier<Tensor> deviceAux, java.util.function.ToDoubleFunction<String> gradTolerance,
                 java.util.Set<String> zeroGradients) {
        Tensor xr = rounded(x, dtype);
        Tensor[] dy = new Tensor[1];
        Side c = run(xr.copy().setRequiresGrad(true), cpuForward, cpuAux, shape -> {
            dy[0] = rounded(Tensor.randn(new Generator(99), DType.F32, shape), dtype);
            return dy[0];
        });
        Side d = run(xr.to(dtype).to(target).setRequiresGrad(true), deviceForward, deviceAux, shape -> dy[0].to(dtype).to(target));
        double tol = tolerance(dtype);
        assertCloseOn(target, "output", c.y(), d.y(), tol);
        assertCloseOn(target, "input gradient", c.dx(), d.dx(), tol);
        assertEquals(c.aux() == null, d.aux() == null, "auxiliary loss present on both");
        if (c.aux() != null) assertCloseOn(target, "auxiliary loss", c.aux(), d.aux(), tol);
        Map<String, Tensor> cp = new LinkedHashMap<>(cpu.namedParameters()), dp = new LinkedHashMap<>(device.namedParameters());
        double scale = 0;
        for (Map.Entry<String, Tensor> e : cp.entrySet()) {
            if (!zeroGradients.contains(e.getKey()) && e.getValue().grad() != null) scale = Math.max(scale, maxAbs(e.getValue().grad()));
        }
        for (String name : zeroGradients) {
            Tensor gc = cp.remove(name).grad(), gd = dp.remove(name).grad();
            assertTrue(gc != null && gd != null, "gradient of " + name + " on both sides");
            assertTrue(maxAbs(gc) <= 1e-5 * scale && maxAbs(gd) <= 1e-5 * scale, "gradient of " + name + " is zero in exact arithmetic: CPU max "
                    + maxAbs(gc) + ", device max " + maxAbs(gd) + ", other gradients up to " + scale);
        }
        assertGradsCloseOn(target, cp, dp, gradTolerance);
    }

    static double maxAbs(Tensor t) {
        double m = 0;
        for (float v : t.cpu().to(DType.F32).toFloatArray()) m = Math.max(m, Math.abs(v));
        return m;
    }

    /** The tolerance of a parameter's gradient: the dtype's, or {@link DeviceTestSupport#BF16_ROUTING_GRAD_TOL} for a bf16 routing parameter. */
    static double gradTolerance(DType dtype, String name) {
        boolean routing = name.contains("router") || name.contains("gate") || name.contains("gating") || name.contains("keys_") || name.contains("threshold");
        return dtype == DType.BF16 && routing ? DeviceTestSupport.BF16_ROUTING_GRAD_TOL : tolerance(dtype);
    }

    /** No-graph forward on both: compares the outputs. */
    void compareOutputs(DType dtype, Tensor x, Function<Tensor, Tensor> cpuForward, Function<Tensor, Tensor> deviceForward) {
        Tensor xr = rounded(x, dtype);
        try (NoGrad s = NoGrad.enter()) {
            assertCloseOn(target, "output", cpuForward.apply(xr), deviceForward.apply(xr.to(dtype).to(target)), tolerance(dtype));
        }
    }

    static Linear base(DType dtype) { return new Linear(IN, OUT, true, dtype, new Generator(1)); }

    /** The module's values, on the CPU (for loading into a CPU copy of a module that already moved). */
    static Map<String, Tensor> cpuState(Module m) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) out.put(e.getKey(), e.getValue().cpu());
        return out;
    }

    static void requireMargin(String what, double margin, double min) {
        assertTrue(margin >= min, "test input too close to a decision boundary (" + what + "): margin " + margin + " < " + min);
    }

    /** Per row of logits [T, E]: the smallest gap among the k + 1 largest (k choices and their order). */
    static double topKMargin(Tensor logits, int k) {
        int T = logits.size(0), e = logits.size(1);
        double[] v = logits.cpu().toDoubleArray();
        double m = Double.POSITIVE_INFINITY;
        for (int t = 0; t < T; t++) m = Math.min(m, Tokens.leadingGap(Tokens.descending(Tokens.row(v, t, e)), Math.min(k, e - 1)));
        return m;
    }

    /** For each of T tokens, k distinct experts drawn from {@code pool}. */
    static int[][] choices(Generator g, int T, int k, int[] pool) {
        int[][] c = new int[T][k];
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < k; j++) {
                int e;
                boolean again;
                do {
                    e = pool[(int) (g.nextDouble() * pool.length)];
                    again = false;
                    for (int i = 0; i < j; i++) again |= c[t][i] == e;
                } while (again);
                c[t][j] = e;
            }
        }
        return c;
    }

    /** Logit targets: 2 - j + 0.08 t for the j-th choice of token t, 0 for the others. */
    static double[][] topKTargets(int[][] choices, int e) {
        double[][] target = new double[choices.length][e];
        for (int t = 0; t < choices.length; t++) for (int j = 0; j < choices[t].length; j++) target[t][choices[t][j]] = 2.0 - j + 0.08 * t;
        return target;
    }

    // ------------------------------------------------------------------ top-k mixtures

    void mixLora(DType dtype) {
        AdapterSpec spec = SPEC.withDropout(dropout(dtype, 0.1));
        Pair<MixLoraLinear> p = pair(dtype, dt -> new MixLoraLinear(base(dt), 6, 2, spec, new Generator(12)), null);
        Generator g = new Generator(13);
        Tensor w = p.cpu().router().weight();
        Tensor x = Tokens.withLogits(w.toDoubleArray(), 6, IN, topKTargets(choices(g, 24, 2, new int[] {0, 1, 2, 3, 4, 5}), 6), g);
        requireMargin("MixLoRA top-2", topKMargin(rounded(x, dtype).matmul(w.mT()), 2), 0.5);
        compare(dtype, p.cpu(), p.device(), x, p.cpu()::forward, p.device()::forward, p.cpu()::auxLoss, p.device()::auxLoss);
        Routing rc = p.cpu().lastRouting(), rd = p.device().lastRouting();
        assertEquals(!target.isCpu(), rd.builtOnDevice(), "the plan is made where the tokens are");
        assertArrayEquals(rc.expertIds(), rd.expertIds(), "expert ids");
        assertArrayEquals(rc.load(), rd.load(), "tokens per expert");
        assertCloseOn(target, "gate weights", rc.weights(), rd.weights(), tolerance(dtype));
    }

    void sira(DType dtype) {
        // bf16 gate weights of different tokens can round to one value; dropping by position keeps the choice exact
        DropPolicy policy = dtype == DType.BF16 ? DropPolicy.BY_POSITION : DropPolicy.BY_SCORE;
        AdapterSpec spec = SPEC.withDropout(dropout(dtype, 0.1));
        double expertDropout = dropout(dtype, 0.25);
        Pair<SiraLinear> p = pair(dtype, dt -> new SiraLinear(base(dt), 6, 2, 1.0, policy, expertDropout, spec, new Generator(14)), null);
        Generator g = new Generator(15);
        Tensor w = p.cpu().router().weight();
        Tensor x = Tokens.withLogits(w.toDoubleArray(), 6, IN, topKTargets(choices(g, 24, 2, new int[] {0, 0, 0, 0, 1, 1, 2, 3, 4, 5}), 6), g);
        requireMargin("SiRA top-2", topKMargin(rounded(x, dtype).matmul(w.mT()), 2), 0.5);
        compare(dtype, p.cpu(), p.device(), x, p.cpu()::forward, p.device()::forward, p.cpu()::auxLoss, p.device()::auxLoss);
        Routing rc = p.cpu().lastRouting(), rd = p.device().lastRouting();
        assertTrue(rc.droppedPairs() > 0, "the capacity drops pairs");
        assertArrayEquals(rc.expertIds(), rd.expertIds(), "expert ids");
        assertArrayEquals(rc.plan().pairToRow(), rd.plan().pairToRow(), "kept pairs and their rows");
        assertEquals(rc.droppedPairs(), rd.droppedPairs(), "dropped pairs");
    }

    void mixtureOfRouters(DType dtype) {
        int n = 6, routers = 3, k = 2;
        Pair<MixtureOfRoutersLinear> p = pair(dtype, dt -> new MixtureOfRoutersLinear(base(dt), n, routers, k, SPEC, new Generator(16)), null);
        MixtureOfRoutersLinear c = p.cpu();
        Tensor[] ws = new Tensor[routers + 1];
        for (int r = 0; r < routers; r++) ws[r] = c.subRouters().get(r).weight();
        ws[routers] = c.mainRouter().weight();
        Generator g = new Generator(17);
        int T = 20, rows = routers * n + routers;
        double[][] goal = new double[T][];
        int[][] chosen = choices(g, T, k, new int[] {0, 1, 2, 3, 4, 5});
        for (int t = 0; t < T; t++) {
            while (true) {
                double[] row = new double[rows];
                double[] main = new double[routers];
                for (int r = 0; r < routers; r++) main[r] = row[routers * n + r] = 2 * g.nextDouble() - 1;
                double[] m = Tokens.softmax(main), dist = new double[n];
                for (int r = 0; r < routers; r++) {
                    double[] l = new double[n];
                    for (int i = 0; i < n; i++) l[i] = 0.3 * g.nextGaussian();
                    for (int j = 0; j < k; j++) l[chosen[t][j]] += 2.5 - j;
                    System.arraycopy(l, 0, row, r * n, n);
                    double[] pr = Tokens.softmax(l);
                    for (int i = 0; i < n; i++) dist[i] += m[r] * pr[i];
                }
                if (Tokens.leadingGap(Tokens.descending(dist), k) >= 0.05) {
                    goal[t] = row;
                    break;
                }
            }
        }
        Tensor x = Tokens.withLogits(Tokens.stack(ws), rows, IN, goal, g);
        try (NoGrad s = NoGrad.enter()) {
            requireMargin("Mixture of Routers top-2", topKMargin(c.distribution(rounded(x, dtype)), k), 0.03);
        }
        compare(dtype, p.cpu(), p.device(), x, p.cpu()::forward, p.device()::forward, p.cpu()::auxLoss, p.device()::auxLoss);
        assertArrayEquals(c.lastIds(), p.device().lastIds(), "expert ids");
        assertCloseOn(target, "distribution P", c.lastDistribution(), p.device().lastDistribution(), tolerance(dtype));
    }

    // ------------------------------------------------------------------ adaptive and soft mixtures

    void adaMole(DType dtype) {
        int n = 4;
        double tauMax = 1.0 / n;
        Pair<AdaMoleLinear> p = pair(dtype, dt -> new AdaMoleLinear(base(dt), n, SPEC.withDropout(dropout(dtype, 0.1)), new Generator(18)), null);
        AdaMoleLinear c = p.cpu();
        double bias = c.threshold().bias().toDoubleArray()[0];
        Generator g = new Generator(19);
        int T = 24;
        double[][] goal = new double[T][];
        for (int t = 0; t < T; t++) {
            while (true) {
                double[] l = new double[n];
                for (int i = 0; i < n; i++) l[i] = 2 * g.nextGaussian();
                double z = 3 * g.nextDouble() - 1.5, tau = tauMax / (1 + Math.exp(-z));
                double[] pr = Tokens.softmax(l);
                double m = Double.POSITIVE_INFINITY;
                for (double v : pr) m = Math.min(m, Math.abs(v - tau));
                if (m >= 0.04) {
                    goal[t] = new double[n + 1];
                    System.arraycopy(l, 0, goal[t], 0, n);
                    goal[t][n] = z - bias;
                    break;
                }
            }
        }
        Tensor x = Tokens.withLogits(Tokens.stack(c.gate().weight(), c.threshold().weight()), n + 1, IN, goal, g);
        try (NoGrad s = NoGrad.enter()) {
            Tensor xr = rounded(x, dtype);
            Tensor a = F.sub(F.softmax(c.gate().forward(xr), -1), c.thresholds(xr));
            double m = Double.POSITIVE_INFINITY;
            for (double v : a.toDoubleArray()) m = Math.min(m, Math.abs(v));
            requireMargin("AdaMoLE p - tau", m, 0.02);
        }
        // The threshold's bias gradient is one scalar: a sum over tokens and active experts of terms of both
        // signs that nearly cancel, so bf16's rounding of each term (2^-8 relative) is amplified in it (an
        // H200 run gave 0.095 against the CPU's 0.119 in F32). Its F32 case checks it at 1e-5; in BF16 it is
        // held to 25%.
        compare(dtype, p.cpu(), p.device(), x, p.cpu()::forward, p.device()::forward, p.cpu()::auxLoss, p.device()::auxLoss,
                name -> dtype == DType.BF16 && name.endsWith("threshold.bias") ? 0.25 : gradTolerance(dtype, name), java.util.Set.of());
        int[] counts = c.lastActiveCounts();
        assertArrayEquals(counts, p.device().lastActiveCounts(), "active experts per token");
        boolean one = false, more = false;
        for (int v : counts) {
            one |= v == 1;
            more |= v > 1;
        }
        assertTrue(one && more, "tokens with one and with several active experts");
    }

    void dynMole(DType dtype) {
        int n = 4;
        DynMoleLinear.Settings settings = DynMoleLinear.Settings.defaults();
        Pair<DynMoleLinear> p = pair(dtype, dt -> new DynMoleLinear(base(dt), n, settings, SPEC.withDropout(dropout(dtype, 0.1)), new Generator(20)), null);
        DynMoleLinear c = p.cpu();
        Generator g = new Generator(21);
        int T = 24;
        double[][] goal = new double[T][];
        for (int t = 0; t < T; t++) {
            double scale = t % 2 == 0 ? 0.15 : 2.5;                   // near-uniform (soft) and confident (sparse) tokens
            while (true) {
                double[] l = new double[n];
                for (int i = 0; i < n; i++) l[i] = scale * g.nextGaussian();
                if (dynMoleMargin(Tokens.softmax(l), settings) >= 0.04) {
                    goal[t] = l;
                    break;
                }
            }
        }
        Tensor x = Tokens.withLogits(c.gate().weight().toDoubleArray(), n, IN, goal, g);
        try (NoGrad s = NoGrad.enter()) {
            double[] pv = F.softmax(c.gate().forward(rounded(x, dtype)), -1).toDoubleArray();
            double m = Double.POSITIVE_INFINITY;
            for (int t = 0; t < T; t++) m = Math.min(m, dynMoleMargin(Tokens.row(pv, t, n), settings));
            requireMargin("DynMoLE entropy, order and top-p", m, 0.02);
        }
        compare(dtype, p.cpu(), p.device(), x, p.cpu()::forward, p.device()::forward, p.cpu()::auxLoss, p.device()::auxLoss);
        assertArrayEquals(c.lastSoft(), p.device().lastSoft(), "soft or sparse per token");
        assertArrayEquals(c.lastActiveCounts(), p.device().lastActiveCounts(), "active experts per token");
        boolean soft = false, sparse = false;
        for (boolean b : c.lastSoft()) {
            soft |= b;
            sparse |= !b;
        }
        assertTrue(soft && sparse, "soft and sparse tokens");
        assertCloseOn(target, "entropy loss", c.lastEntropyLoss(), p.device().lastEntropyLoss(), tolerance(dtype));
    }

    /** How far one token's probabilities are from DynMoLE's decisions: entropy vs tau, the order, the top-p sums. */
    static double dynMoleMargin(double[] p, DynMoleLinear.Settings s) {
        double h = TsallisEntropy.normalized(p, 0, p.length, s.entropyIndex());
        double m = Math.abs(h - s.entropyThreshold()) / 2;          // bf16 moves H most: (1 - sum p^q) / (q - 1) magnifies rounding
        if (h > s.entropyThreshold()) return m;
        double[] sorted = Tokens.descending(p);
        m = Math.min(m, Tokens.leadingGap(sorted, sorted.length - 1));
        double cumulative = 0;
        for (double v : sorted) m = Math.min(m, Math.abs((cumulative += v) - s.topP()));
        return m;
    }

    void loraMoe(DType dtype) {
        Pair<LoraMoeLinear> p = pair(dtype, dt -> new LoraMoeLinear(base(dt), 4, 0.1, SPEC.withDropout(dropout(dtype, 0.1)), new Generator(22)), null);
        int[] types = {0, 1, 1};
        Tensor x = Tensor.randn(new Generator(23), DType.F32, 3, 8, IN);
        compare(dtype, p.cpu(), p.device(), x, p.cpu()::forward, p.device()::forward,
                () -> F.add(p.cpu().auxLoss(), p.cpu().balanceLoss(types)), () -> F.add(p.device().auxLoss(), p.device().balanceLoss(types)));
        assertCloseOn(target, "gate weights", p.cpu().lastWeights(), p.device().lastWeights(), tolerance(dtype));
    }

    void ensemble(DType dtype) {
        Pair<LoraEnsembleLinear> p = pair(dtype, dt -> {
            LoraEnsembleLinear l = new LoraEnsembleLinear(base(dt), 3, SPEC.withDropout(dropout(dtype, 0.1)), new Generator(24));
            l.setWeights(0.5, 0.3, 0.2);
            return l;
        }, null);
        compare(dtype, p.cpu(), p.device(), Tensor.randn(new Generator(25), DType.F32, 2, 7, IN), p.cpu()::forward, p.device()::forward, null, null);
        double tol = tolerance(dtype);
        assertCloseOn(target, "averaged delta", p.cpu().averagedDelta(), p.device().averagedDelta(), tol);
        LowRankUpdate fc = p.cpu().averagedFactors(), fd = p.device().averagedFactors();
        assertCloseOn(target, "averaged A", fc.a(), fd.a(), tol);
        assertCloseOn(target, "averaged B", fc.b(), fd.b(), tol);
    }

    // ------------------------------------------------------------------ S'MoRE

    void sMore(DType dtype) {
        int G = 16, K = 4;
        SMoreLinear.Structure st = new SMoreLinear.Structure(new int[] {4, 3}, new int[] {2, 2}, new int[] {2, 2}, G, K);
        Pair<SMoreLinear> p = pair(dtype, dt -> new SMoreLinear(base(dt), st, null, new Generator(26)), m -> {
            try (NoGrad s = NoGrad.enter()) {                          // W_out starts at zero; a random one lets every gradient through
                m.wOut().copyFrom(Tensor.randn(new Generator(27), DType.F32, m.wOut().shape()).mul(0.3));
            }
        });
        SMoreLinear c = p.cpu();
        Tensor wc = c.gateProjection().weight().to(DType.F64), bc = c.gateProjection().bias().to(DType.F64).reshape(G, 1);
        Tensor g1 = c.gate(1).weight().to(DType.F64), g0 = c.gate(0).weight().to(DType.F64);
        Tensor g0c = g0.narrow(1, 0, G), g0k = g0.narrow(1, G, K);
        // level 1 (top) logits = (G1 Wc) x + G1 bc; level 0 logits under parent v = (G0c Wc) x + G0c bc + G0k keys_1[v]
        Tensor rows = Tensor.cat(List.of(g1.matmul(wc), g0c.matmul(wc)), 0);
        double[] o1 = g1.matmul(bc).toDoubleArray(), o0 = g0c.matmul(bc).toDoubleArray();
        double[] k0 = g0k.matmul(c.keys(1).to(DType.F64).mT()).toDoubleArray();            // [4, 3]: column v for parent v
        Generator g = new Generator(28);
        int T = 48;
        double[][] goal = new double[T][];
        for (int t = 0; t < T; t++) {
            while (true) {
                double[] l1 = new double[3], t0 = new double[4];
                for (int i = 0; i < 3; i++) l1[i] = 2 * g.nextGaussian();
                for (int i = 0; i < 4; i++) t0[i] = 2 * g.nextGaussian();
                double m = Tokens.leadingGap(Tokens.descending(l1), 2);
                int[] parents = topIndices(l1, 2);
                for (int v : parents) {
                    double[] l0 = new double[4];
                    for (int i = 0; i < 4; i++) l0[i] = t0[i] + k0[i * 3 + v];
                    m = Math.min(m, Tokens.leadingGap(Tokens.descending(l0), 2));
                }
                if (m >= 0.3) {
                    goal[t] = new double[7];
                    for (int i = 0; i < 3; i++) goal[t][i] = l1[i] - o1[i];
                    for (int i = 0; i < 4; i++) goal[t][3 + i] = t0[i] - o0[i];
                    break;
                }
            }
        }
        Tensor x = Tokens.withLogits(rows.toDoubleArray(), 7, IN, goal, g);
        compare(dtype, p.cpu(), p.device(), x, p.cpu()::forward, p.device()::forward, null, null);
        for (int l = 0; l < 2; l++) {
            assertArrayEquals(c.lastIds(l), p.device().lastIds(l), "expert ids of level " + l);
            double[] sc = c.lastScores(l), sd = p.device().lastScores(l);
            assertEquals(sc.length, sd.length, "scores of level " + l);
            for (int q = 0; q < sc.length; q++) assertEquals(sc[q], sd[q], 4 * tolerance(dtype), "score " + q + " of level " + l);
        }
    }

    /** Indices of the k largest values, largest first. */
    static int[] topIndices(double[] v, int k) {
        int[] out = new int[k];
        boolean[] used = new boolean[v.length];
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int i = 0; i < v.length; i++) if (!used[i] && (best < 0 || v[i] > v[best])) best = i;
            used[best] = true;
            out[j] = best;
        }
        return out;
    }

    // ------------------------------------------------------------------ MiLoRA

    /** A block with four linear layers; the router reads q_proj's input. */
    static final class Block extends Module {
        final Linear q, v, up, down;

        Block(DType dtype, Generator gen) {
            q = registerModule("q_proj", new Linear(IN, IN, true, dtype, gen));
            v = registerModule("v_proj", new Linear(IN, IN, false, dtype, gen));
            up = registerModule("up", new Linear(IN, 32, true, dtype, gen));
            down = registerModule("down", new Linear(32, IN, true, dtype, gen));
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor h = F.add(x, F.add(q.forward(x), v.forward(x)));
            return F.add(h, down.forward(F.silu(up.forward(x))));
        }
    }

    /** The block and its MiLoRA layer in one tree (the layer does not hold the block's frozen weights). */
    static final class MiLoraHolder extends Module {
        final Block block;
        final MiLoraLayer layer;

        MiLoraHolder(DType dtype, double dropout) {
            block = registerModule("block", new Block(dtype, new Generator(29)));
            layer = registerModule("milora", MiLoraLayer.attach(block, "q_proj", List.of("q_proj", "v_proj", "up", "down"),
                    SPEC.withDropout(dropout), 2, PromptRouter.Pooling.LAST_TOKEN, new Generator(30)));
        }

        @Override
        public Tensor forward(Tensor x) { return block.forward(x); }
    }

    void miLora(DType dtype) {
        double dropout = dropout(dtype, 0.1);
        Pair<MiLoraHolder> p = pair(dtype, dt -> new MiLoraHolder(dt, dropout), null);
        Tensor w = p.cpu().layer.router().router().weight();
        Generator g = new Generator(31);
        // a prompt of 5 tokens for sequences 7 and 9, routed on their last tokens
        Tensor prompt = Tensor.randn(g, DType.F32, 2, 5, IN);
        prompt.select(1, 4).copyFrom(Tokens.withLogits(w.toDoubleArray(), 4, IN, topKTargets(choices(g, 2, 2, new int[] {0, 1, 2, 3}), 4), g));
        requireMargin("MiLoRA prompt top-2", topKMargin(rounded(prompt.select(1, 4).contiguous(), dtype).matmul(w.mT()), 2), 0.5);
        p.cpu().layer.setSequenceIds(7, 9);
        p.device().layer.setSequenceIds(7, 9);
        compare(dtype, p.cpu(), p.device(), prompt, p.cpu()::forward, p.device()::forward, null, null);
        for (long id : new long[] {7, 9}) {
            double[] want = p.cpu().layer.cachedGates(id), got = p.device().layer.cachedGates(id);
            for (int m = 0; m < want.length; m++) assertEquals(want[m], got[m], 4 * tolerance(dtype), "cached gate " + m + " of sequence " + id);
        }
        // one generated token each for 7 and 9 (cached gates, uploaded) and a new prompt of one token for 11
        Tensor step = Tensor.randn(g, DType.F32, 3, 1, IN);
        step.select(0, 2).copyFrom(Tokens.withLogits(w.toDoubleArray(), 4, IN, topKTargets(new int[][] {{3, 1}}, 4), g));
        p.cpu().layer.setSequenceIds(7, 9, 11);
        p.device().layer.setSequenceIds(7, 9, 11);
        compare(dtype, p.cpu(), p.device(), step, p.cpu()::forward, p.device()::forward, null, null);
        assertCloseOn(target, "gates of the step", p.cpu().layer.currentGates(), p.device().layer.currentGates(), tolerance(dtype));
        assertEquals(3, p.device().layer.cachedSequences().size(), "sequences cached");
    }

    // ------------------------------------------------------------------ mixtures on a model

    /** layers.0.proj and layers.1.proj with a SiLU between. */
    static final class TwoLayers extends Module {
        static final class Layer extends Module {
            final Linear proj;
            Layer(DType dtype, Generator gen) { proj = registerModule("proj", new Linear(IN, IN, true, dtype, gen)); }
            @Override public Tensor forward(Tensor x) { return F.silu(proj.forward(x)); }
        }

        static final class Layers extends Module {
            final Layer l0, l1;
            Layers(DType dtype, Generator gen) {
                l0 = registerModule("0", new Layer(dtype, gen));
                l1 = registerModule("1", new Layer(dtype, gen));
            }
            @Override public Tensor forward(Tensor x) { return l1.forward(l0.forward(x)); }
        }

        final Layers layers;

        TwoLayers(DType dtype, Generator gen) { layers = registerModule("layers", new Layers(dtype, gen)); }

        @Override
        public Tensor forward(Tensor x) { return layers.forward(x); }
    }

    /** The model and its mixtures in one tree, for the state copy and the gradient comparison. */
    static final class MixtureModelHolder extends Module {
        final LoraMixtureModel mola;

        MixtureModelHolder(DType dtype, LoraMixtureModel.MixtureFactory factory) {
            TwoLayers model = registerModule("model", new TwoLayers(dtype, new Generator(32)));
            mola = LoraMixtureModel.attach(model, ModulePattern.names("proj"), SPEC, ExpertAllocation.perLayer(2, 3), factory, new Generator(33));
            int i = 0;
            for (LoraMixtureLinear l : mola.layers().values()) registerModule("mixture_" + i++, l);
        }

        @Override
        public Tensor forward(Tensor x) { return mola.forward(x); }
    }

    /** F32: MixLoRA (top-2 on the model's own activations); BF16: LoRAMoE (soft, no discrete choice to flip). */
    void mixtureModel(DType dtype) {
        LoraMixtureModel.MixtureFactory factory = dtype == DType.F32
                ? (base, n, spec, gen) -> new MixLoraLinear(base, n, 2, spec, gen)
                : (base, n, spec, gen) -> new LoraMoeLinear(base, n, 0.1, spec, gen);
        Pair<MixtureModelHolder> p = pair(dtype, dt -> new MixtureModelHolder(dt, factory), null, h -> h.mola.to(target));
        for (Tensor t : p.device().parameters()) assertEquals(target, t.device(), "LoraMixtureModel.to moves the model and every mixture");
        Tensor x = Tensor.randn(new Generator(34), DType.F32, 2, 6, IN);
        compare(dtype, p.cpu(), p.device(), x, p.cpu()::forward, p.device()::forward, p.cpu().mola::auxLoss, p.device().mola::auxLoss);
        assertEquals(p.cpu().mola.trainableParameters().size(), p.device().mola.trainableParameters().size(), "trainable parameters");
    }

    // ------------------------------------------------------------------ merging and upcycling

    void merge(DType dtype) {
        Pair<LoraExpertBank> p = pair(dtype, dt -> new LoraExpertBank(3, IN, OUT, SPEC, dt, new Generator(35)), null);
        List<LowRankUpdate> uc = new ArrayList<>(), ud = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            uc.add(LowRankUpdate.of(p.cpu(), i));
            ud.add(LowRankUpdate.of(p.device(), i));
        }
        double[] c = {0.6, 0.3, 0.1};
        double tol = tolerance(dtype);
        assertCloseOn(target, "linear merge", LoraMerge.linear(uc, c), LoraMerge.linear(ud, c), tol);
        LowRankUpdate cc = LoraMerge.concatenate(uc, c), cd = LoraMerge.concatenate(ud, c);
        assertCloseOn(target, "concatenated A", cc.a(), cd.a(), tol);
        assertCloseOn(target, "concatenated B", cc.b(), cd.b(), tol);
        assertCloseOn(target, "concatenated delta", LoraMerge.linear(uc, c), cd.delta(), tol);
        LowRankUpdate ac = LoraMerge.averageFactors(uc, c), ad = LoraMerge.averageFactors(ud, c);
        assertCloseOn(target, "factor average A", ac.a(), ad.a(), tol);
        assertCloseOn(target, "factor average B", ac.b(), ad.b(), tol);
        assertEquals(ac.scaling(), ad.scaling(), "factor average scaling");

        // TIES on the device's deltas equals TIES on the same values on the CPU (its trim runs on the host)
        Tensor ties = LoraMerge.tiesUpdates(ud, 0.4, 1.2);
        List<Tensor> hostDeltas = new ArrayList<>();
        for (LowRankUpdate u : ud) hostDeltas.add(u.delta().cpu());
        Tensor want = LoraMerge.ties(hostDeltas, 0.4, 1.2);
        assertEquals(dtype, ties.dtype(), "TIES dtype");
        assertCloseOn(target, "TIES", want.to(DType.F32), ties, DeviceTestSupport.F32_TOL);

        Pair<Linear> layer = pair(dtype, MixtureCases::base, null);
        LoraMerge.foldInto(layer.cpu(), LoraMerge.linear(uc, c));
        LoraMerge.foldInto(layer.device(), LoraMerge.linear(ud, c));
        assertCloseOn(target, "folded weight", layer.cpu().weight(), layer.device().weight(), tol);
        LoraMerge.foldInto(layer.cpu(), LoraMerge.linear(uc, null));
        LoraMerge.foldInto(layer.device(), LoraMerge.linear(uc, null).to(dtype));            // a CPU delta into a weight on the target
        assertCloseOn(target, "weight with a CPU delta folded in", layer.cpu().weight(), layer.device().weight(), tol);
        if (!target.isCpu()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LoraMerge.linear(List.of(ud.get(0), uc.get(0).a().dtype() == dtype
                    ? uc.get(0) : new LowRankUpdate(uc.get(0).a().to(dtype), uc.get(0).b().to(dtype), 1.0))));
            assertTrue(e.getMessage().contains("different devices"), e.getMessage());
        }
    }

    void upcycleLinear(DType dtype) {
        Pair<Linear> dense = pair(dtype, MixtureCases::base, null);
        UpcycledLinearMoe md = Upcycling.linear(dense.device(), 4, 2, new Generator(36));
        UpcycledLinearMoe mc = Upcycling.linear(dense.cpu(), 4, 2, new Generator(36));
        mc.loadStateDict(cpuState(md), true);                                                  // the router drawn in dtype
        for (Tensor t : md.parameters()) assertEquals(target, t.device(), "the upcycled layer lives with the dense one");
        Tensor x = Tensor.randn(new Generator(37), DType.F32, 3, 7, IN);
        double tol = tolerance(dtype);
        if (dtype == DType.F32) {
            // identical experts: the output does not depend on the router's weights (they sum to 1), so
            // the router's gradient is zero in exact arithmetic
            java.util.Set<String> router = new java.util.LinkedHashSet<>();
            for (String name : mc.namedParameters().keySet()) if (name.contains("gate") || name.contains("router")) router.add(name);
            assertTrue(!router.isEmpty(), "the upcycled layer has a router");
            compare(dtype, mc, md, x, mc::forward, md::forward, null, null, name -> gradTolerance(dtype, name), router);
            assertArrayEquals(mc.lastRouting().expertIds(), md.lastRouting().expertIds(), "expert ids");
        } else {
            compareOutputs(dtype, x, mc::forward, md::forward);                                 // identical experts: any routing gives the same output
        }
        try (NoGrad s = NoGrad.enter()) {
            Tensor xd = rounded(x, dtype).to(dtype).to(target);
            assertCloseOn(target, "identical experts give the dense layer", dense.device().forward(xd).to(DType.F32), md.forward(xd).to(DType.F32), tol);
        }
        double[] c = {0.4, 0.3, 0.2, 0.1};
        Linear bc = Upcycling.mergeToDense(mc, c), bd = Upcycling.mergeToDense(md, c);
        assertCloseOn(target, "merged weight", bc.weight(), bd.weight(), tol);
        assertCloseOn(target, "merged bias", bc.bias(), bd.bias(), tol);
        assertCloseOn(target, "merged weight is the dense one", dense.cpu().weight(), bd.weight(), tol);
    }

    void upcycleSwiglu(DType dtype) {
        Pair<SwiGLUMlp> dense = pair(dtype, dt -> new SwiGLUMlp(IN, 32, dt, new Generator(38)), null);
        MoeLayer md = Upcycling.swiglu(dense.device(), 4, 2, new Generator(39));
        MoeLayer mc = Upcycling.swiglu(dense.cpu(), 4, 2, new Generator(39));
        mc.loadStateDict(cpuState(md), true);
        for (Tensor t : md.parameters()) assertEquals(target, t.device(), "the upcycled MoE layer lives with the dense MLP");
        Tensor x = Tensor.randn(new Generator(40), DType.F32, 12, IN);
        compareOutputs(dtype, x, mc::forward, md::forward);
        try (NoGrad s = NoGrad.enter()) {
            Tensor xd = rounded(x, dtype).to(dtype).to(target);
            assertCloseOn(target, "identical experts give the dense MLP", dense.device().forward(xd).to(DType.F32), md.forward(xd).to(DType.F32),
                    tolerance(dtype));
        }
        SwiGLUMlp back = Upcycling.mergeToDense(md);
        Map<String, Tensor> want = dense.cpu().namedParameters(), got = back.namedParameters();
        for (String name : want.keySet()) assertCloseOn(target, "merged " + name, want.get(name), got.get(name), tolerance(dtype));
    }
}
