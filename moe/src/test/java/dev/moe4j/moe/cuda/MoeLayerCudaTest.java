package dev.moe4j.moe.cuda;

import static dev.moe4j.moe.cuda.DeviceTestSupport.GPU;
import static dev.moe4j.moe.cuda.DeviceTestSupport.assertClose;
import static dev.moe4j.moe.cuda.DeviceTestSupport.assertGradsClose;
import static dev.moe4j.moe.cuda.DeviceTestSupport.rounded;
import static dev.moe4j.moe.cuda.DeviceTestSupport.tolerance;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An MoE layer built on the CPU and copied to the device ({@code Module.to}) computes the same
 * outputs, input gradients, parameter gradients, routing and balance losses as the CPU layer, in F32
 * (1e-5) and BF16 (1e-2, against the CPU in F32 on the same bf16-rounded parameters and inputs).
 *
 * <p>Inputs are built so that every token's chosen experts lead the others by a clear margin
 * ({@link #separatedTokens}): a bf16 rounding of the router logits cannot change a choice, so both
 * devices route identically and the comparison is of the arithmetic alone.
 */
@Tag("gpu")
class MoeLayerCudaTest {
    static final int D = 48, HIDDEN = 32, E = 8;

    @BeforeEach
    void needsAGpu() {
        DeviceTestSupport.requireGpu();
    }

    enum Precision {
        F32(DType.F32), BF16(DType.BF16);
        final DType dtype;
        Precision(DType dtype) { this.dtype = dtype; }
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void softmaxTopKWithAGatedSharedExpertAndBalanceLosses(Precision p) {
        MoeOptions o = options().router(RouterKind.SOFTMAX_TOPK).topK(2).sharedExpert(40, true)
                .balancing(Balancing.auxLoss(0.01).withZLoss(0.001));
        Generator g = new Generator(11);
        int[][] choices = choices(g, 24, 2, new int[] {0, 1, 2, 3, 4, 5, 6, 7});
        Run r = compare(o, p.dtype, new int[] {24, D}, choices, g);
        assertTrue(r.device.lastRouting().builtOnDevice(), "softmax top-k plans on the device");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void deepSeekV3WithSharedExpertGroupLimitAndLossFreeBias(Precision p) {
        MoeOptions o = options().router(RouterKind.DEEPSEEK_V3).topK(2).groups(4, 2).routedScalingFactor(2.5)
                .sharedExpert(48, false).balancing(Balancing.lossFree(0.01).withSequenceAux(0.05));
        Generator g = new Generator(12);
        int[][] choices = choices(g, 16, 2, new int[] {0, 1, 2, 3, 4, 5, 6, 7});
        Run r = compare(o, p.dtype, new int[] {2, 8, D}, choices, g);
        assertTrue(r.device.lastRouting().builtOnDevice(), "DeepSeek-V3 plans on the device");
        r.cpu.updateSelectionBias();
        r.device.updateSelectionBias();
        Tensor want = r.cpu.router().selectionBias(), got = r.device.router().selectionBias();
        assertArrayEquals(want.toFloatArray(), got.cpu().toFloatArray(), "selection bias after the update");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void switchTop1DropsTokensOverCapacity(Precision p) {
        MoeOptions o = options().router(RouterKind.SWITCH).topK(1).capacityFactor(1.0);
        Generator g = new Generator(13);
        int[][] choices = choices(g, 20, 1, new int[] {0, 0, 0, 1, 1, 2, 3, 4, 5, 6});   // experts 0 and 1 overflow
        Run r = compare(o, p.dtype, new int[] {20, D}, choices, g);
        assertTrue(r.device.lastRouting().builtOnDevice(), "capacity by position plans on the device");
        assertTrue(r.cpu.lastRouting().droppedPairs() > 0, "the case drops tokens");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void switchDroppingByScorePlansOnTheDevice(Precision p) {
        MoeOptions o = options().router(RouterKind.SWITCH).topK(1).capacityFactor(1.0).dropPolicy(DropPolicy.BY_SCORE);
        Generator g = new Generator(14);
        int[][] choices = choices(g, 20, 1, new int[] {0, 0, 0, 1, 1, 2, 3, 4, 5, 6});
        Run r = compare(o, p.dtype, new int[] {20, D}, choices, g);
        assertTrue(r.device.lastRouting().builtOnDevice(), "dropping by score over one group plans on the device");
        assertTrue(r.cpu.lastRouting().droppedPairs() > 0, "the case drops tokens");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void switchCapacityGroupsUploadTheHostPlan(Precision p) {
        MoeOptions o = options().router(RouterKind.SWITCH).topK(1).capacityFactor(1.0).dropPolicy(DropPolicy.BY_SCORE)
                .capacityGroupSize(10);
        Generator g = new Generator(16);
        int[][] choices = choices(g, 20, 1, new int[] {0, 0, 0, 1, 1, 2, 3, 4, 5, 6});
        Run r = compare(o, p.dtype, new int[] {20, D}, choices, g);
        assertTrue(!r.device.lastRouting().builtOnDevice(), "capacity over several groups plans on the host");
        assertTrue(r.cpu.lastRouting().droppedPairs() > 0, "the case drops tokens");
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void expertsWithoutTokensAndPlainGeluExperts(Precision p) {
        MoeOptions o = options().router(RouterKind.SOFTMAX_TOPK).topK(2).activation(ExpertActivation.GELU, false);
        Generator g = new Generator(15);
        int[][] choices = choices(g, 12, 2, new int[] {0, 1, 2, 5});                       // experts 3, 4, 6, 7 idle
        Run r = compare(o, p.dtype, new int[] {12, D}, choices, g);
        int[] load = r.device.lastLoad();
        assertEquals(0, load[3] + load[4] + load[6] + load[7], "idle experts");
        Tensor idle = r.device.experts().downProjection().grad().cpu().to(DType.F32).select(0, 3);
        for (float v : idle.toFloatArray()) assertEquals(0f, v, "an idle expert's weight gradient is zero");
    }

    // ------------------------------------------------------------------ the comparison

    record Run(MoeLayer cpu, MoeLayer device) {}

    static MoeOptions options() {
        return new MoeOptions().hiddenSize(D).intermediateSize(HIDDEN).experts(E).seed(7).initStd(0.05, 0.05);
    }

    /**
     * Builds the layer in {@code dtype} on the CPU, a reference copy in F32 with the same values, moves
     * the first to the device, runs both on the same input with loss {@code sum(y * dy) + auxLoss} and
     * compares everything.
     */
    static Run compare(MoeOptions o, DType dtype, int[] shape, int[][] choices, Generator g) {
        MoeLayer device = new MoeLayer(o.dtype(dtype));
        MoeLayer cpu = new MoeLayer(o.dtype(DType.F32));
        cpu.loadStateDict(device.stateDict(), true);
        device.to(GPU);
        for (Tensor t : device.parameters()) assertEquals(GPU, t.device(), "parameters on the device");

        Tensor router = cpu.router().parameters().get(0);                       // [E, d]
        Tensor x = rounded(separatedTokens(router, choices, g).reshape(shape), dtype);
        Tensor dy = rounded(Tensor.randn(g, DType.F32, shape), dtype);

        Tensor xc = x.copy().setRequiresGrad(true);
        Tensor yc = cpu.forward(xc);
        Autograd.backward(F.add(F.sum(F.mul(yc, dy)), cpu.auxLoss()));

        Tensor xd = x.to(dtype).to(GPU).setRequiresGrad(true);
        Tensor yd = device.forward(xd);
        Autograd.backward(F.add(F.sum(F.mul(yd, dy.to(dtype).to(GPU))), device.auxLoss()));

        Routing rc = cpu.lastRouting(), rd = device.lastRouting();
        assertArrayEquals(rc.expertIds(), rd.expertIds(), "expert ids");
        assertArrayEquals(rc.load(), rd.load(), "tokens per expert");
        assertArrayEquals(rc.demand(), rd.demand(), "demand per expert");
        assertArrayEquals(rc.plan().rowToPair(), rd.plan().rowToPair(), "permutation");
        assertArrayEquals(rc.plan().pairToRow(), rd.plan().pairToRow(), "inverse permutation");
        assertEquals(rc.droppedPairs(), rd.droppedPairs(), "dropped pairs");

        double tol = tolerance(dtype);
        assertClose("output", yc, yd, tol);
        assertClose("gate weights", rc.weights(), rd.weights(), tol);
        assertClose("input gradient", xc.grad(), xd.grad(), tol);
        assertGradsClose(cpu.namedParameters(), device.namedParameters(), tol);
        assertEquals(cpu.report().auxLoss(), device.report().auxLoss(), tol * Math.max(1, Math.abs(cpu.report().auxLoss())), "aux loss");
        for (String name : cpu.report().losses().keySet()) {
            double want = cpu.report().losses().get(name), got = device.report().losses().get(name);
            assertEquals(want, got, tol * Math.max(1, Math.abs(want)), name);
        }
        assertTrue(device.report().toString().contains("MoE routing report"), "the report prints from the device");
        return new Run(cpu, device);
    }

    /** For each of T tokens, k distinct experts drawn from {@code pool} (repeats in the pool weight the draw). */
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

    /**
     * Tokens x [T, d] whose router logits x W^T are 2 + 0.08 t for the first chosen expert, 1 + 0.08 t
     * for the second (and so on, falling by 1), 0 for the others, plus a little noise: x = sum_j a_j u_{e_j} + n with
     * u_e = W^T (W W^T)^-1 1_e (so that W u_e = 1_e), n ~ N(0, 0.01^2).
     */
    static Tensor separatedTokens(Tensor w, int[][] choices, Generator g) {
        int e = w.size(0), d = w.size(1), T = choices.length;
        double[] wa = w.toDoubleArray();
        double[][] m = new double[e][2 * e];                                    // [W W^T | I], Gauss-Jordan
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += wa[i * d + c] * wa[j * d + c];
                m[i][j] = s;
            }
            m[i][e + i] = 1;
        }
        for (int col = 0; col < e; col++) {
            int piv = col;
            for (int r = col + 1; r < e; r++) if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) piv = r;
            double[] tmp = m[col]; m[col] = m[piv]; m[piv] = tmp;
            double v = m[col][col];
            for (int c = 0; c < 2 * e; c++) m[col][c] /= v;
            for (int r = 0; r < e; r++) {
                if (r == col) continue;
                double f = m[r][col];
                for (int c = 0; c < 2 * e; c++) m[r][c] -= f * m[col][c];
            }
        }
        double[] x = new double[T * d];
        for (int t = 0; t < T; t++) {
            double[] target = new double[e];
            // each token's chosen logits also rise by 0.08 t, so that tokens competing for an expert's
            // capacity differ in score by more than bf16 rounding of the logits (at most 0.016 here)
            for (int j = 0; j < choices[t].length; j++) target[choices[t][j]] = 2.0 - j + 0.08 * t;
            double[] coef = new double[e];                                       // (W W^T)^-1 target
            for (int i = 0; i < e; i++) for (int j = 0; j < e; j++) coef[i] += m[i][e + j] * target[j];
            for (int c = 0; c < d; c++) {
                double s = 0.01 * g.nextGaussian();
                for (int i = 0; i < e; i++) s += wa[i * d + c] * coef[i];
                x[t * d + c] = s;
            }
        }
        return Tensor.of(x, T, d).to(DType.F32);
    }
}
