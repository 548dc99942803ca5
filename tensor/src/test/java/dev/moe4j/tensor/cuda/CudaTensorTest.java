package dev.moe4j.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import dev.moe4j.kernels.cpu.GroupedGemm;
import dev.moe4j.kernels.cpu.GroupedGemm.Layout;
import dev.moe4j.kernels.cpu.moe.Combine;
import dev.moe4j.kernels.cpu.moe.Gating;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cpu.moe.Permute;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.kernels.cuda.DeviceRoutingPlan;
import dev.moe4j.kernels.cuda.KernelBuild;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Device tensors: transfers, copies, cuBLAS matmul, and an MoE layer's kernels end to end, against the CPU. */
@Tag("gpu")
class CudaTensorTest {
    static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsAGpu() {
        Assumptions.assumeTrue(CudaProbe.available(), () -> "no CUDA device: " + CudaProbe.reason());
    }

    static void assertClose(String what, float[] want, float[] got, double tol) {
        assertEquals(want.length, got.length, what + " length");
        double scale = 1e-3;
        for (float w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(got[i] - want[i]) <= tol * scale)) fail(what + " at " + i + ": want " + want[i] + ", got " + got[i]);
        }
    }

    @Test
    void roundTripsKeepEveryDtypeAndView() {
        Generator g = new Generator(1);
        for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16, DType.I32, DType.I64, DType.BOOL}) {
            Tensor t = Tensor.randn(g, DType.F64, 5, 7).mul(10).to(dt);
            Tensor back = t.to(GPU).cpu();
            assertEquals(GPU, t.to(GPU).device());
            assertArrayEquals(t.toDoubleArray(), back.toDoubleArray(), dt.toString());
            Tensor view = t.to(GPU).mT().narrow(0, 1, 5);     // a non-contiguous device view
            assertArrayEquals(t.mT().narrow(0, 1, 5).toDoubleArray(), view.cpu().toDoubleArray(), dt + " view");
            assertArrayEquals(t.mT().contiguous().toDoubleArray(), t.to(GPU).mT().contiguous().cpu().toDoubleArray(), dt + " contiguous");
        }
        assertEquals(0, Tensor.zeros(0, 3).to(GPU).cpu().numel());
    }

    @Test
    void matmulRunsOnCublasAndMatchesTheCpu() {
        Generator g = new Generator(2);
        Tensor a = Tensor.randn(g, DType.F32, 3, 37, 64), w = Tensor.randn(g, DType.F32, 48, 64), b = Tensor.randn(g, DType.F32, 3, 64, 20);
        assertClose("x @ w^T", a.matmul(w.mT()).toFloatArray(), a.to(GPU).matmul(w.to(GPU).mT()).cpu().toFloatArray(), 1e-5);
        assertClose("batched", a.matmul(b).toFloatArray(), a.to(GPU).matmul(b.to(GPU)).cpu().toFloatArray(), 1e-5);
        assertClose("vector", w.matmul(a.select(0, 0).select(0, 0)).toFloatArray(),
                w.to(GPU).matmul(a.select(0, 0).select(0, 0).to(GPU)).cpu().toFloatArray(), 1e-5);
        Tensor ab = a.to(DType.BF16), wb = w.to(DType.BF16);
        Tensor want = ab.to(DType.F32).matmul(wb.to(DType.F32).mT());
        Tensor got = ab.to(GPU).matmul(wb.to(GPU).mT());
        assertEquals(DType.BF16, got.dtype());
        assertClose("bf16 x @ w^T", want.toFloatArray(), got.cpu().to(DType.F32).toFloatArray(), 1e-2);
        assertThrows(IllegalArgumentException.class, () -> a.to(GPU).matmul(w.mT()));
    }

    @Test
    void anMoeLayerRunsOnDeviceTensorsAndAgreesWithTheCpu() {
        Assumptions.assumeTrue(KernelBuild.available(), () -> "CUDA kernels not built: " + KernelBuild.reason());
        Generator g = new Generator(3);
        int T = 300, E = 16, k = 4, d = 64, f = 96;
        GatingConfig config = GatingConfig.softmaxTopK(k, true);
        // logits well apart, so the device and the CPU choose the same experts
        float[] logits = new float[T * E];
        java.util.Random rnd = new java.util.Random(4);
        for (int t = 0; t < T; t++) {
            int[] perm = rnd.ints(0, 1 << 20).distinct().limit(E).toArray();
            for (int e = 0; e < E; e++) logits[t * E + e] = (perm[e] % 97) * 0.1f + e * 1e-3f;
        }
        Tensor x = Tensor.randn(g, DType.F32, T, d), w = Tensor.randn(g, DType.F32, E, f, d).mul(0.1), dy = Tensor.randn(g, DType.F32, T, f);

        // CPU path
        float[] scores = new float[T * E], gw = new float[T * k];
        int[] ids = new int[T * k], counts = new int[E];
        Gating.forward(config, logits, T, E, null, scores, gw, ids, counts);
        RoutingPlan plan = RoutingPlan.build(ids, T, k, E);
        int R = plan.numRows();
        float[] xPerm = new float[R * d], h = new float[R * f], y = new float[T * f];
        Permute.permute(plan, x.toFloatArray(), d, xPerm);
        GroupedGemm.forward(plan.offsets(), d, f, 1f, xPerm, 0, w.toFloatArray(), 0, Layout.NK, 0f, h, 0);
        Combine.combine(plan, gw, h, f, y);
        float[] dh = new float[R * f], dgw = new float[T * k], dxPerm = new float[R * d], dx = new float[T * d], dw = new float[E * f * d];
        Combine.combineBackward(plan, gw, h, dy.toFloatArray(), f, dh, dgw);
        GroupedGemm.backwardInput(plan.offsets(), d, f, 1f, dh, 0, w.toFloatArray(), 0, Layout.NK, 0f, dxPerm, 0);
        GroupedGemm.backwardWeight(plan.offsets(), d, f, 1f, xPerm, 0, dh, 0, 0f, dw, 0, Layout.NK);
        Permute.permuteBackward(plan, dxPerm, d, dx);

        // device path
        CudaMoe.Gate gate = CudaMoe.gating(config, Tensor.of(logits, T, E).to(GPU), null, true);
        assertArrayEquals(ids, gate.ids().cpu().toIntArray(), "expert ids");
        assertArrayEquals(counts, gate.counts().cpu().toIntArray(), "counts");
        try (DeviceRoutingPlan dp = CudaMoe.plan(gate.ids(), E, -1)) {
            assertEquals(R, dp.numRows());
            Tensor gx = CudaMoe.permute(dp, x.to(GPU));
            Tensor gh = CudaMoe.groupedGemm(dp, gx, w.to(GPU), Layout.NK);
            Tensor gy = CudaMoe.combine(dp, gate.weights(), gh);
            assertClose("y", y, gy.cpu().toFloatArray(), 1e-5);
            CudaMoe.CombineGrads cg = CudaMoe.combineBackward(dp, gate.weights(), gh, dy.to(GPU));
            assertClose("dWeights", dgw, cg.dWeights().cpu().toFloatArray(), 1e-5);
            Tensor gdxPerm = CudaMoe.groupedGemmBackwardInput(dp, cg.dyPerm(), w.to(GPU), Layout.NK);
            Tensor gdw = CudaMoe.groupedGemmBackwardWeight(dp, gx, cg.dyPerm(), Layout.NK);
            Tensor gdx = CudaMoe.permuteBackward(dp, gdxPerm);
            assertClose("dx", dx, gdx.cpu().toFloatArray(), 1e-5);
            assertClose("dW", dw, gdw.cpu().toFloatArray(), 1e-5);
            Tensor dLogits = CudaMoe.gatingBackward(config, gate.scores(), gate.ids(), cg.dWeights());
            float[] want = new float[T * E];
            Gating.backward(config, scores, T, E, ids, dgw, want);
            assertClose("dLogits", want, dLogits.cpu().toFloatArray(), 1e-4);
        }
    }
}
