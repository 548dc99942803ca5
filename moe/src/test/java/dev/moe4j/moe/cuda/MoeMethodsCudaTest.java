package dev.moe4j.moe.cuda;

import static dev.moe4j.moe.cuda.DeviceTestSupport.GPU;
import static dev.moe4j.moe.cuda.DeviceTestSupport.assertClose;
import static dev.moe4j.moe.cuda.DeviceTestSupport.assertGradsClose;
import static dev.moe4j.moe.cuda.DeviceTestSupport.rounded;
import static dev.moe4j.moe.cuda.DeviceTestSupport.tolerance;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.analysis.ExpertPruning;
import dev.moe4j.moe.analysis.ExpertUsage;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.balance.ConsistencyLoss;
import dev.moe4j.moe.balance.NoisyTopKLosses;
import dev.moe4j.moe.balance.NormalCdf;
import dev.moe4j.moe.balance.RouterEntropyLoss;
import dev.moe4j.moe.cuda.MoeLayerCudaTest.Precision;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.experts.HeterogeneousExperts;
import dev.moe4j.moe.methods.AutonomyOfExpertsLayer;
import dev.moe4j.moe.methods.ChainOfExperts;
import dev.moe4j.moe.methods.HeterogeneousMoeLayer;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.routing.ActiveExpertSchedule;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.FrozenRandomRouter;
import dev.moe4j.moe.routing.NoisyTopKRouter;
import dev.moe4j.moe.routing.Router;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.moe.routing.StochasticExpertRouter;
import dev.moe4j.moe.routing.TopPRouter;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The MoE methods beyond the plain layer, built on the CPU and copied to the device
 * ({@code Module.to}), compute the same outputs, losses, input gradients and parameter gradients as
 * the CPU, in F32 (1e-5) and BF16 (1e-2, against the CPU in F32 on the same bf16-rounded parameters
 * and inputs): heterogeneous experts with the parameter penalty (and {@code Dispatch}),
 * Autonomy-of-Experts, Chain-of-Experts, stochastic experts with THOR's consistency loss, the frozen
 * random router under an active-expert schedule, noisy top-k with its importance and load losses
 * (and the normal CDF), the router entropy loss, the MoE layer with expert-choice, hash, top-p and
 * null-expert routing, and expert pruning of a layer on the device.
 *
 * <p>Inputs come from {@link MethodInputs}: every routing choice leads by a clear margin, so both
 * devices route identically and the comparison is of the arithmetic alone. Random draws (stochastic
 * experts, router noise) are made on the host from generators seeded alike, so both copies see the
 * same draws.
 */
@Tag("gpu")
class MoeMethodsCudaTest {
    static final int D = 48, HIDDEN = 32, E = 8;
    static final int[] SIZES = {8, 16, 24, 32, 40, 16, 8, 24};

    /**
     * The device the second copy of each layer runs on: the CUDA device; the CPU for the dry run of
     * the cases' code ({@link MoeMethodsDryRunTest}, F32 only).
     */
    static Device target = GPU;

    @BeforeEach
    void needsAGpu() {
        DeviceTestSupport.requireGpu();
    }

    // ------------------------------------------------------------------ HMoE (and Dispatch)

    @ParameterizedTest
    @EnumSource(Precision.class)
    void heterogeneousExpertsWithSoftmaxTopKAndTheParameterPenalty(Precision p) {
        Pair<HeterogeneousMoeLayer> m = pair(dtype -> {
            Generator gen = new Generator(31);
            Router r = new SoftmaxTopKRouter(D, E, 2, true, Capacity.unlimited(), false, dtype, gen, 0.05);
            return new HeterogeneousMoeLayer(r, new HeterogeneousExperts(D, SIZES, ExpertActivation.SILU, true, dtype, gen, 0.05), 0.01);
        }, p.dtype, null);
        Generator g = new Generator(32);
        int[][] choices = MoeLayerCudaTest.choices(g, 20, 2, new int[] {0, 1, 2, 4, 5, 7});        // experts 3 and 6 idle
        double[][] w = MethodInputs.rows(((SoftmaxTopKRouter) m.cpu.router()).weight());
        Tensor x = MethodInputs.tokensFor(w, MethodInputs.ladders(g, choices, E, 3, 0.5), g);
        Result r = compare(m, p.dtype, x, g, (layer, xin) -> new Tensor[] {layer.forward(xin), layer.auxLoss()});
        assertSameRouting("routing", m.cpu.lastRouting(), m.device.lastRouting());
        assertPlannedOnDevice(m.device.lastRouting(), "softmax top-k plans on the device");
        assertEquals(m.cpu.lastActivatedParameters(), m.device.lastActivatedParameters(), "activated parameters per token");
        assertLossesClose(m.cpu.report().losses(), m.device.report().losses(), p.dtype);
        assertEquals(0, m.device.lastRouting().load()[3] + m.device.lastRouting().load()[6], "idle experts");
        assertTrue(r.cpu[1].item() > 0, "the penalty is on");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void heterogeneousExpertsWithTopPAndTheRouterEntropy(Precision p) {
        Pair<HeterogeneousMoeLayer> m = pair(dtype -> {
            Generator gen = new Generator(33);
            Router r = new TopPRouter(D, E, 0.6, 4, dtype, gen, 0.05);
            return new HeterogeneousMoeLayer(r, new HeterogeneousExperts(D, SIZES, ExpertActivation.GELU, false, dtype, gen, 0.05), 0.02);
        }, p.dtype, null);
        Generator g = new Generator(34);
        double[][] w = MethodInputs.rows(((TopPRouter) m.cpu.router()).weight());
        Tensor x = MethodInputs.tokensFor(w, MethodInputs.topPLogits(g, 20, E, 0.6, 4), g);
        compare(m, p.dtype, x, g, (layer, xin) -> {
            Tensor y = layer.forward(xin);
            Tensor entropy = RouterEntropyLoss.of(layer.lastRouting());
            return new Tensor[] {y, F.add(f32(layer.auxLoss()), F.mul(f32(entropy), 0.1)), entropy};
        });
        assertSameRouting("routing", m.cpu.lastRouting(), m.device.lastRouting());
        assertEquals(m.cpu.lastActivatedParameters(), m.device.lastActivatedParameters(), "activated parameters per token");
        assertLossesClose(m.cpu.report().losses(), m.device.report().losses(), p.dtype);
        assertTrue(unselected(m.cpu.lastRouting()) > 0, "some tokens take fewer than the most experts");
    }

    // ------------------------------------------------------------------ Autonomy-of-Experts

    @ParameterizedTest
    @CsvSource({"F32, true", "F32, false", "BF16, true", "BF16, false"})
    void autonomyOfExperts(Precision p, boolean renormalize) {
        int r = 4;
        Pair<AutonomyOfExpertsLayer> m = pair(dtype -> new AutonomyOfExpertsLayer(D, E, r, HIDDEN, 2, renormalize, ExpertActivation.SILU, 0.01,
                dtype, new Generator(41), 0.05), p.dtype, layer -> {
                    // the first row of each expert's A^T carries its norm; the others are made small
                    Tensor a = layer.gateDown();
                    double[] v = a.toDoubleArray();
                    for (int e = 0; e < E; e++) for (int j = 1; j < r; j++) for (int c = 0; c < D; c++) v[(e * r + j) * D + c] *= 0.1;
                    try (NoGrad scope = NoGrad.enter()) {
                        a.copyFrom(Tensor.of(v, E, r, D));
                    }
                });
        Generator g = new Generator(42);
        double[] a = m.cpu.gateDown().toDoubleArray();
        double[][] firstRows = new double[E][D];
        for (int e = 0; e < E; e++) System.arraycopy(a, e * r * D, firstRows[e], 0, D);
        int[][] choices = MoeLayerCudaTest.choices(g, 18, 2, new int[] {0, 1, 2, 3, 4, 5, 6, 7});
        Tensor x = MethodInputs.tokensFor(firstRows, MethodInputs.ladders(g, choices, E, 4, 0.5), g);   // norms 4 .. 0.5
        Result res = compare(m, p.dtype, x, g, (layer, xin) -> new Tensor[] {layer.forward(xin), layer.auxLoss()});
        assertSameRouting("routing", m.cpu.lastRouting(), m.device.lastRouting());
        assertClose("gate weights", m.cpu.lastRouting().weights(), m.device.lastRouting().weights(), tolerance(p.dtype));
        assertClose("norms", m.cpu.lastRouting().logits(), m.device.lastRouting().logits(), tolerance(p.dtype));
        int[] ids = m.cpu.lastRouting().expertIds();
        for (int t = 0; t < choices.length; t++) assertEquals(choices[t][0], ids[t * 2], "token " + t + " chose its largest norm");
        assertTrue(res.cpu[1].item() > 0, "the balance loss is on");
    }

    // ------------------------------------------------------------------ Chain-of-Experts

    @ParameterizedTest
    @CsvSource({"F32, false", "F32, true", "BF16, false", "BF16, true"})
    void chainOfExperts(Precision p, boolean expertsPerIteration) {
        Pair<ChainOfExperts> m = pair(dtype -> ChainOfExperts.softmaxTopK(D, HIDDEN, E, 2, 2, expertsPerIteration, Balancing.auxLoss(0.01),
                dtype, 51, 0.05), p.dtype, null);
        Generator g = new Generator(52);
        int T = 16;
        double[][] w0 = MethodInputs.rows(((SoftmaxTopKRouter) m.cpu.iteration(0).router()).weight());
        double[][] w1 = MethodInputs.rows(((SoftmaxTopKRouter) m.cpu.iteration(1).router()).weight());
        int[] all = {0, 1, 2, 3, 4, 5, 6, 7};
        double[][] t0 = MethodInputs.ladders(g, MoeLayerCudaTest.choices(g, T, 2, all), E, 3, 0.5);
        double[][] t1 = MethodInputs.ladders(g, MoeLayerCudaTest.choices(g, T, 2, all), E, 3, 0.5);
        Tensor x = MethodInputs.tokensFor(MethodInputs.stack(w0, w1), MethodInputs.join(t0, t1), g);
        compare(m, p.dtype, x, g, (chain, xin) -> new Tensor[] {chain.forward(xin), chain.auxLoss()});
        for (int i = 0; i < 2; i++) {
            assertSameRouting("routing of iteration " + i, m.cpu.lastRouting(i), m.device.lastRouting(i));
            assertPlannedOnDevice(m.device.lastRouting(i), "iteration " + i + " plans on the device");
            assertLossesClose(m.cpu.iteration(i).report().losses(), m.device.iteration(i).report().losses(), p.dtype);
        }
        assertEquals(expertsPerIteration ? 6 : 4, m.device.parameters().size(), "a shared set of experts appears once");
    }

    // ------------------------------------------------------------------ THOR

    @ParameterizedTest
    @CsvSource({"F32, TOKEN", "F32, BATCH", "BF16, TOKEN", "BF16, BATCH"})
    void stochasticExpertsWithTheConsistencyLoss(Precision p, StochasticExpertRouter.Granularity granularity) {
        Pair<MoeLayer> m = pair(dtype -> {
            Generator gen = new Generator(61);
            return new MoeLayer(new StochasticExpertRouter(D, E, 2, granularity, 62), "gate",
                    new GroupedExperts(E, D, HIDDEN, ExpertActivation.SILU, true, dtype, gen, 0.05), null, "shared_experts", null, Balancing.none(), 0, 63);
        }, p.dtype, null);
        Generator g = new Generator(64);
        int T = 16;
        Tensor x = Tensor.randn(g, DType.F32, T, D);
        long[] classes = new long[T];
        for (int t = 0; t < T; t++) classes[t] = g.nextInt(D);
        Tensor labels = Tensor.of(classes, T);
        Routing[][] routings = new Routing[2][2];                                 // [cpu, device][pass]
        int[] calls = {0};                                                        // compare runs the CPU side first
        compare(m, p.dtype, x, g, (layer, xin) -> {
            int side = calls[0]++;
            Tensor yA = layer.forward(xin);
            routings[side][0] = layer.lastRouting();
            Tensor yB = layer.forward(xin);
            routings[side][1] = layer.lastRouting();
            Tensor thor = ConsistencyLoss.thorObjective(F.mul(yA, 10.0), F.mul(yB, 10.0), labels.to(yA.device()), 1.0);
            Tensor kl = ConsistencyLoss.symmetricKl(F.mul(yA, 10.0), F.mul(yB, 10.0));
            return new Tensor[] {yA, thor, kl};
        });
        for (int pass = 0; pass < 2; pass++) assertSameRouting("pass " + pass, routings[0][pass], routings[1][pass]);
        if (granularity == StochasticExpertRouter.Granularity.TOKEN) {
            assertFalse(java.util.Arrays.equals(routings[0][0].expertIds(), routings[0][1].expertIds()), "the two passes draw different experts");
        }
        m.cpu.eval();
        m.device.eval();
        try (NoGrad scope = NoGrad.enter()) {
            Tensor xr = rounded(x, p.dtype);
            Tensor xd = xr.to(p.dtype).to(target);
            Tensor y1 = m.device.forward(xd);
            int[] ids1 = m.device.lastRouting().expertIds();
            Tensor y2 = m.device.forward(xd);
            assertArrayEquals(ids1, m.device.lastRouting().expertIds(), "evaluation routes deterministically");
            assertClose("evaluation output, twice", y1.to(DType.F32).cpu(), y2, tolerance(p.dtype));
            Tensor yc = m.cpu.forward(xr);
            assertArrayEquals(m.cpu.lastRouting().expertIds(), ids1, "evaluation routing on both");
            assertClose("evaluation output", yc, y1, tolerance(p.dtype));
        }
    }

    // ------------------------------------------------------------------ SMoE-Dropout

    @ParameterizedTest
    @EnumSource(Precision.class)
    void frozenRandomRouterUnderAnActiveExpertSchedule(Precision p) {
        Pair<MoeLayer> m = pair(dtype -> {
            Generator gen = new Generator(71);
            return new MoeLayer(new FrozenRandomRouter(D, E, 1, dtype, gen, 0.05), "gate",
                    new GroupedExperts(E, D, HIDDEN, ExpertActivation.SILU, true, dtype, gen, 0.05), null, "shared_experts", null, Balancing.none(), 0, 72);
        }, p.dtype, null);
        FrozenRandomRouter rc = (FrozenRandomRouter) m.cpu.router(), rd = (FrozenRandomRouter) m.device.router();
        assertEquals(target, rd.weight().device(), "the frozen weight (a buffer) moved");
        Generator g = new Generator(73);
        int T = 16;
        double[][] targets = new double[T][];
        for (int t = 0; t < T; t++) targets[t] = MethodInputs.ladder(MethodInputs.permutation(g, E), 3, 0.5);
        Tensor x = MethodInputs.tokensFor(MethodInputs.rows(rc.weight()), targets, g);
        ActiveExpertSchedule schedule = new ActiveExpertSchedule(1, 3, 6);
        int[] wantK = {1, 2, 3, 3};
        for (int s = 0; s < 4; s++) {
            long step = 2L * s;
            assertEquals(wantK[s], schedule.apply(rc, step), "k at step " + step);
            assertEquals(wantK[s], schedule.apply(rd, step), "k at step " + step);
            m.cpu.zeroGrad();
            m.device.zeroGrad();
            compare(m, p.dtype, x, g, (layer, xin) -> new Tensor[] {layer.forward(xin)});
            assertSameRouting("routing at step " + step, m.cpu.lastRouting(), m.device.lastRouting());
            assertEquals(wantK[s], m.device.lastRouting().topK(), "slots at step " + step);
            assertPlannedOnDevice(m.device.lastRouting(), "the frozen router plans on the device");
        }
    }

    // ------------------------------------------------------------------ noisy top-k and its losses

    @ParameterizedTest
    @CsvSource({"F32, true", "F32, false", "BF16, true", "BF16, false"})
    void noisyTopKWithImportanceAndLoadLosses(Precision p, boolean training) {
        MoeOptions o = options().router(RouterKind.NOISY_TOPK).topK(2).balancing(Balancing.auxLoss(0.01));
        Pair<MoeLayer> m = pair(dtype -> new MoeLayer(o.dtype(dtype)), p.dtype, null);
        if (!training) {
            m.cpu.eval();
            m.device.eval();
        }
        NoisyTopKRouter rc = (NoisyTopKRouter) m.cpu.router();
        Generator g = new Generator(81);
        int T = 18;
        int[][] choices = MoeLayerCudaTest.choices(g, T, 2, new int[] {0, 1, 2, 3, 4, 5, 6, 7});
        // noise scale softplus(-1) = 0.31 in F32 (the noise reorders some experts: the same on both sides);
        // softplus(-3) = 0.05 in BF16, so that the noisy logits keep the ladder's gaps of 0.5
        double noiseLogit = p.dtype == DType.BF16 ? -3 : -1;
        Tensor x = MethodInputs.tokensFor(MethodInputs.stack(MethodInputs.rows(rc.weight()), MethodInputs.rows(rc.noiseWeight())),
                MethodInputs.join(MethodInputs.ladders(g, choices, E, 3, 0.5), MethodInputs.constant(T, E, noiseLogit)), g);
        compare(m, p.dtype, x, g, (layer, xin) -> {
            Tensor y = layer.forward(xin);
            Routing routing = layer.lastRouting();
            Tensor importance = NoisyTopKLosses.importanceLoss(routing);
            Tensor load = NoisyTopKLosses.loadLoss((NoisyTopKRouter) layer.router(), xin, routing);
            Tensor aux = F.add(f32(layer.auxLoss()), F.add(F.mul(f32(importance), 0.1), F.mul(f32(load), 0.1)));
            return new Tensor[] {y, aux, importance, load, NoisyTopKLosses.importance(routing),
                    NoisyTopKLosses.load((NoisyTopKRouter) layer.router(), xin, routing)};
        });
        assertSameRouting("routing", m.cpu.lastRouting(), m.device.lastRouting());
        assertClose("noisy logits", m.cpu.lastRouting().logits(), m.device.lastRouting().logits(), tolerance(p.dtype));
        assertLossesClose(m.cpu.report().losses(), m.device.report().losses(), p.dtype);
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void normalCdfAndItsDensity(Precision p) {
        Generator g = new Generator(91);
        Tensor z = Tensor.randn(g, DType.F32, 37, 7).mul(3.0);
        double[] v = z.toDoubleArray();
        double[] extremes = {-12, -9, -6, -3.5, -1e-3, 0, 1e-3, 3.5, 6, 9, 12};
        System.arraycopy(extremes, 0, v, 0, extremes.length);
        z = rounded(Tensor.of(v, 37, 7).to(DType.F32), p.dtype);
        Tensor dy = rounded(Tensor.randn(g, DType.F32, 37, 7), p.dtype);
        Tensor zc = z.copy().setRequiresGrad(true);
        Tensor yc = new NormalCdf().apply(zc);
        Autograd.backward(F.sum(F.mul(yc, dy)));
        Tensor zd = z.to(p.dtype).to(target).setRequiresGrad(true);
        Tensor yd = new NormalCdf().apply(zd);
        assertEquals(p.dtype, yd.dtype(), "the output keeps the input's dtype");
        Autograd.backward(F.sum(F.mul(yd, dy.to(p.dtype).to(target))));
        assertClose("Phi(z)", yc, yd, tolerance(p.dtype));
        assertClose("phi(z) dy", zc.grad(), zd.grad(), tolerance(p.dtype));
        if (p.dtype == DType.F32 && target != Device.CPU) {
            // the lower tail keeps its relative precision: Phi(-6) = 9.866e-10, Phi(-9) = 1.129e-19
            float[] got = yd.cpu().toFloatArray(), want = yc.toFloatArray();
            for (int i = 0; i < 4; i++) assertEquals(want[i], got[i], 1e-4 * want[i], "Phi(" + extremes[i] + ")");
        }
    }

    @Test
    void smoothLoadOfRandomLogits() {
        Generator g = new Generator(92);
        int T = 19, n = 6, k = 2;
        Tensor clean = Tensor.randn(g, DType.F32, T, n);
        Tensor noisy = clean.add(Tensor.randn(g, DType.F32, T, n).mul(0.5));
        Tensor std = Tensor.rand(g, DType.F32, T, n).mul(0.9).add(0.1);
        Tensor v = Tensor.randn(g, DType.F32, n);
        Tensor[] c = {clean.copy().setRequiresGrad(true), noisy.copy().setRequiresGrad(true), std.copy().setRequiresGrad(true)};
        Tensor[] d = {clean.to(target).setRequiresGrad(true), noisy.to(target).setRequiresGrad(true), std.to(target).setRequiresGrad(true)};
        Tensor lc = NoisyTopKLosses.load(c[0], c[1], c[2], k), ld = NoisyTopKLosses.load(d[0], d[1], d[2], k);
        Autograd.backward(F.add(F.sum(F.mul(lc, v)), NoisyTopKLosses.cvSquared(lc)));
        Autograd.backward(F.add(F.sum(F.mul(ld, v.to(target))), NoisyTopKLosses.cvSquared(ld)));
        assertClose("load", lc, ld, 1e-5);
        String[] names = {"clean", "noisy", "noise std"};
        for (int i = 0; i < 3; i++) assertClose("gradient of the " + names[i] + " logits", c[i].grad(), d[i].grad(), 1e-5);
    }

    // ------------------------------------------------------------------ the MoE layer's other routers

    @ParameterizedTest
    @EnumSource(Precision.class)
    void expertChoiceRouting(Precision p) {
        MoeOptions o = options().router(RouterKind.EXPERT_CHOICE).capacityFactor(1.5).balancing(Balancing.auxLoss(0.01).withZLoss(0.001));
        Pair<MoeLayer> m = pair(dtype -> new MoeLayer(o.dtype(dtype)), p.dtype, null);
        Generator g = new Generator(101);
        Tensor x = MethodInputs.tokensFor(MethodInputs.rows(m.cpu.router().parameters().get(0)), MethodInputs.expertChoiceLogits(g, 16, E, 3), g);
        compareLayer(m, p.dtype, x, g, null);
        for (int load : m.device.lastLoad()) assertEquals(3, load, "every expert takes c = 3 tokens");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void hashRoutingWithCapacity(Precision p) {
        MoeOptions o = options().router(RouterKind.HASH).topK(1).capacityFactor(1.0);
        Pair<MoeLayer> m = pair(dtype -> new MoeLayer(o.dtype(dtype)), p.dtype, null);
        Generator g = new Generator(111);
        int T = 20;
        long[] tokenIds = new long[T];
        for (int t = 0; t < T; t++) tokenIds[t] = 1000 + g.nextInt(6);           // six distinct ids: some expert overflows C = 3
        compareLayer(m, p.dtype, Tensor.randn(g, DType.F32, T, D), g, tokenIds);
        assertTrue(m.cpu.lastRouting().droppedPairs() > 0, "the case drops tokens");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void topPRoutingWithTheEntropyLoss(Precision p) {
        MoeOptions o = options().router(RouterKind.TOP_P).topK(4).topP(0.6).balancing(Balancing.auxLoss(0.01));
        Pair<MoeLayer> m = pair(dtype -> new MoeLayer(o.dtype(dtype)), p.dtype, null);
        Generator g = new Generator(121);
        Tensor x = MethodInputs.tokensFor(MethodInputs.rows(m.cpu.router().parameters().get(0)), MethodInputs.topPLogits(g, 20, E, 0.6, 4), g);
        Result r = compare(m, p.dtype, x, g, (layer, xin) -> {
            Tensor y = layer.forward(xin);
            Tensor entropy = RouterEntropyLoss.of(layer.lastRouting());
            return new Tensor[] {y, F.add(f32(layer.auxLoss()), F.mul(f32(entropy), 0.05)), entropy};
        });
        assertSameRouting("routing", m.cpu.lastRouting(), m.device.lastRouting());
        assertLossesClose(m.cpu.report().losses(), m.device.report().losses(), p.dtype);
        assertTrue(unselected(m.cpu.lastRouting()) > 0, "some tokens take fewer than the most experts");
        assertTrue(r.cpu[2].item() > 0, "the entropy is positive");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void nullExperts(Precision p) {
        MoeOptions o = options().router(RouterKind.NULL_EXPERTS).nullExperts(2).topK(2).balancing(Balancing.auxLoss(0.01).withZLoss(0.001));
        Pair<MoeLayer> m = pair(dtype -> new MoeLayer(o.dtype(dtype)), p.dtype, null);
        Generator g = new Generator(131);
        int[][] choices = MoeLayerCudaTest.choices(g, 20, 2, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 9});
        Tensor x = MethodInputs.tokensFor(MethodInputs.rows(m.cpu.router().parameters().get(0)), MethodInputs.ladders(g, choices, E + 2, 3, 0.5), g);
        compareLayer(m, p.dtype, x, g, null);
        assertTrue(m.cpu.lastRouting().nullPairs() > 0, "some pairs go to null experts");
        assertEquals(m.cpu.lastRouting().nullPairs(), m.device.lastRouting().nullPairs(), "null pairs");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void expertPruningOfALayerOnTheDevice(Precision p) {
        MoeOptions o = options().router(RouterKind.SOFTMAX_TOPK).topK(2).sharedExpert(40, true).selectionBias(true)
                .balancing(Balancing.auxLoss(0.01));
        Pair<MoeLayer> m = pair(dtype -> new MoeLayer(o.dtype(dtype)), p.dtype, null);
        int[] keep = {0, 2, 3, 5, 6};
        Generator g = new Generator(141);
        double[][] w = MethodInputs.rows(m.cpu.router().parameters().get(0));
        Tensor x = MethodInputs.tokensFor(w, MethodInputs.ladders(g, MoeLayerCudaTest.choices(g, 20, 2, keep), E, 3, 0.5), g);

        // usage counted from a forward on each side picks the same experts
        ExpertUsage uc = new ExpertUsage(E), ud = new ExpertUsage(E);
        try (NoGrad scope = NoGrad.enter()) {
            m.cpu.forward(rounded(x, p.dtype));
            uc.add(m.cpu.lastRouting());
            m.device.forward(x.to(p.dtype).to(target));
            ud.add(m.device.lastRouting());
        }
        assertArrayEquals(uc.counts(), ud.counts(), "usage counts");
        assertArrayEquals(keep, ud.mostUsed(keep.length), "the most used experts are the kept ones");

        Pair<MoeLayer> pruned = new Pair<>(ExpertPruning.prune(m.cpu, uc, keep.length), ExpertPruning.prune(m.device, ud, keep.length));
        for (Tensor t : pruned.device.parameters()) assertEquals(target, t.device(), "pruned parameters on the device");
        assertEquals(target, pruned.device.router().selectionBias().device(), "pruned selection bias on the device");
        assertEquals(keep.length, pruned.device.experts().numExperts(), "experts kept");
        compareLayer(pruned, p.dtype, x, g, null);
        int[] ids = pruned.device.lastRouting().expertIds();
        assertPlannedOnDevice(pruned.device.lastRouting(), "the pruned layer plans on the device");
        for (int id : ids) assertTrue(id >= 0 && id < keep.length, "ids of the pruned layer");
    }

    // ------------------------------------------------------------------ the comparison

    /** A layer built twice: on the CPU in F32, and in the test's dtype moved to the device. */
    record Pair<M extends Module>(M cpu, M device) {}

    /** The results of one forward + backward on each side: output first, then losses (0-dim) and other tensors. */
    record Result(Tensor[] cpu, Tensor[] device) {}

    static MoeOptions options() {
        return new MoeOptions().hiddenSize(D).intermediateSize(HIDDEN).experts(E).seed(7).initStd(0.05, 0.05);
    }

    /**
     * Builds the layer in {@code dtype} on the CPU, applies {@code adjust} to it, makes an F32 copy
     * with the same values for the CPU side and moves the first to the device.
     */
    static <M extends Module> Pair<M> pair(Function<DType, M> build, DType dtype, Consumer<M> adjust) {
        M device = build.apply(dtype);
        if (adjust != null) adjust.accept(device);
        M cpu = build.apply(DType.F32);
        cpu.loadStateDict(device.stateDict(), true);
        device.to(target);
        for (Tensor t : device.parameters()) assertEquals(target, t.device(), "parameters on the device");
        for (Tensor t : device.namedBuffers().values()) assertEquals(target, t.device(), "buffers on the device");
        return new Pair<>(cpu, device);
    }

    /**
     * Runs {@code model} on each side on the same input (rounded to {@code dtype}) with loss
     * {@code sum(y * dy) + out[1]} (out[1] when present and not null), back-propagates, and compares the
     * outputs, every further returned tensor, the input gradient and every parameter gradient.
     */
    static <M extends Module> Result compare(Pair<M> m, DType dtype, Tensor x, Generator g, BiFunction<M, Tensor, Tensor[]> model) {
        Tensor xr = rounded(x, dtype);
        Tensor xc = xr.copy().setRequiresGrad(true);
        Tensor xd = xr.copy().to(dtype).to(target).setRequiresGrad(true);       // a fresh leaf on either side
        Tensor[] oc = model.apply(m.cpu, xc), od;
        Tensor dy = rounded(Tensor.randn(g, DType.F32, oc[0].shape()), dtype);
        Autograd.backward(loss(oc, dy));
        od = model.apply(m.device, xd);
        Autograd.backward(loss(od, dy.to(dtype).to(target)));

        double tol = tolerance(dtype);
        assertEquals(oc.length, od.length, "results");
        assertClose("output", oc[0], od[0], tol);
        for (int i = 1; i < oc.length; i++) {
            if (oc[i] == null && od[i] == null) continue;
            assertNotNull(oc[i], "CPU result " + i);
            assertNotNull(od[i], "device result " + i);
            assertClose("result " + i, oc[i].detach(), od[i].detach(), tol);
        }
        assertClose("input gradient", xc.grad(), xd.grad(), tol);
        assertGradsClose(m.cpu.namedParameters(), m.device.namedParameters(), tol);
        return new Result(oc, od);
    }

    private static Tensor loss(Tensor[] out, Tensor dy) {
        Tensor l = F.sum(F.mul(out[0], dy));
        if (out.length > 1 && out[1] != null) l = F.add(f32(l), f32(out[1]));
        return l;
    }

    static Tensor f32(Tensor t) {
        return t.dtype() == DType.F32 ? t : F.to(t, DType.F32);
    }

    /** {@link #compare} of an MoE layer with its aux loss, then its routing and report. */
    static void compareLayer(Pair<MoeLayer> m, DType dtype, Tensor x, Generator g, long[] tokenIds) {
        compare(m, dtype, x, g, (layer, xin) -> new Tensor[] {layer.forward(xin, tokenIds), layer.auxLoss()});
        assertSameRouting("routing", m.cpu.lastRouting(), m.device.lastRouting());
        assertClose("gate weights", m.cpu.lastRouting().weights(), m.device.lastRouting().weights(), tolerance(dtype));
        assertEquals(m.cpu.report().auxLoss(), m.device.report().auxLoss(), tolerance(dtype) * Math.max(1, Math.abs(m.cpu.report().auxLoss())), "aux loss");
        assertLossesClose(m.cpu.report().losses(), m.device.report().losses(), dtype);
        assertTrue(m.device.report().toString().contains("MoE routing report"), "the report prints from the device");
    }

    static void assertSameRouting(String what, Routing c, Routing d) {
        assertArrayEquals(c.expertIds(), d.expertIds(), what + ": expert ids");
        assertArrayEquals(c.selected(), d.selected(), what + ": selection");
        assertArrayEquals(c.load(), d.load(), what + ": tokens per expert");
        assertArrayEquals(c.demand(), d.demand(), what + ": demand per expert");
        assertArrayEquals(c.plan().rowToPair(), d.plan().rowToPair(), what + ": permutation");
        assertArrayEquals(c.plan().pairToRow(), d.plan().pairToRow(), what + ": inverse permutation");
        assertEquals(c.droppedPairs(), d.droppedPairs(), what + ": dropped pairs");
    }

    static void assertLossesClose(java.util.Map<String, Double> want, java.util.Map<String, Double> got, DType dtype) {
        assertEquals(want.keySet(), got.keySet(), "loss names");
        double tol = tolerance(dtype);
        for (String name : want.keySet()) assertEquals(want.get(name), got.get(name), tol * Math.max(1, Math.abs(want.get(name))), name);
    }

    /** Checks that a routing on the device built its plan there (nothing to check in a dry run on the CPU). */
    static void assertPlannedOnDevice(Routing r, String what) {
        if (target != Device.CPU) assertTrue(r.builtOnDevice(), what);
    }

    /** Pairs a top-p routing did not select. */
    static int unselected(Routing r) {
        int n = 0;
        for (int i = 0; i < r.numTokens() * r.topK(); i++) if (!r.isSelected(i)) n++;
        return n;
    }
}
