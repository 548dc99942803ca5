package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.kernels.cpu.GroupedGemm;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaMoe;

/**
 * One linear map per expert over ragged groups of rows, as a differentiable function:
 * (x [R, K], W [E, N, K]) &rarr; y [R, N] with {@code y[rows_e] = x[rows_e] W_e^T}, where group e
 * holds rows {@code offsets[e] .. offsets[e+1]-1} (empty groups allowed). W is stored as stacked
 * {@code nn.Linear} weights [out, in], the layout of Hugging Face fused experts
 * ({@code gate_up_proj} [E, 2f, d], {@code down_proj} [E, d, f]).
 *
 * <p>Derivative, per group: {@code dx[rows_e] = dy[rows_e] W_e} and
 * {@code dW_e = dy[rows_e]^T x[rows_e]} (zero for an empty group). All three products are grouped
 * GEMMs ({@link GroupedGemm} forward, backwardInput, backwardWeight with the transposed layout
 * {@link GroupedGemm.Layout#NK}), in float for F32 and in double for F64.
 *
 * <p>On a CUDA device (F32 or BF16) the same three products run as the device grouped GEMM
 * ({@link CudaMoe#groupedGemm}, {@code groupedGemmBackwardInput}, {@code groupedGemmBackwardWeight};
 * bf16 on tensor cores with float accumulation), reading the offsets uploaded once per call.
 */
public final class GroupedLinear extends Function {
    private final int[] offsets;
    private Tensor deviceOffsets;     // [E + 1] I32 on the device of the inputs, uploaded by a device forward

    /**
     * @param offsets [E + 1] non-decreasing row offsets, {@code offsets[0] = 0}
     * @throws IllegalArgumentException for fewer than 2 entries, a non-zero start or a decrease
     */
    public GroupedLinear(int[] offsets) {
        if (offsets == null || offsets.length < 2) throw new IllegalArgumentException("grouped linear: offsets need E + 1 >= 2 entries");
        if (offsets[0] != 0) throw new IllegalArgumentException("grouped linear: offsets must start at 0, got " + offsets[0]);
        for (int e = 0; e + 1 < offsets.length; e++) {
            if (offsets[e + 1] < offsets[e]) {
                throw new IllegalArgumentException("grouped linear: offsets decrease at expert " + e + ": " + offsets[e] + " > " + offsets[e + 1]);
            }
        }
        this.offsets = offsets.clone();
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0], w = in[1];
        DeviceOps.requireCompute("grouped linear", "x", x);
        TensorArrays.requireSameDType("grouped linear", "x", x, "W", w);
        int E = offsets.length - 1, R = offsets[E];
        if (w.rank() != 3 || w.size(0) != E) {
            throw new IllegalArgumentException("grouped linear: W must be [E, N, K] with E = " + E + " groups, got " + Shape.str(w.shape()));
        }
        int N = w.size(1), K = w.size(2);
        if (x.rank() != 2 || x.size(0) != R || x.size(1) != K) {
            throw new IllegalArgumentException("grouped linear: x " + Shape.str(x.shape()) + " does not fit [R, K] = [" + R + ", " + K
                    + "] (R from the offsets, K from W " + Shape.str(w.shape()) + ")");
        }
        ctx.save(ctx.needsInputGrad(1) ? x : null, ctx.needsInputGrad(0) ? w : null);
        if (DeviceOps.onCuda(x)) {
            DeviceOps.requireDeviceCompute("grouped linear", "x", x);
            deviceOffsets = DeviceOps.ints(offsets, x.device());
            return CudaMoe.groupedGemm(DeviceOps.intBuffer(deviceOffsets), E, x, w, GroupedGemm.Layout.NK);
        }
        if (x.dtype() == DType.F32) {
            float[] y = new float[R * N];
            GroupedGemm.forward(offsets, K, N, 1f, TensorArrays.floats(x), 0, TensorArrays.floats(w), 0, GroupedGemm.Layout.NK, 0f, y, 0);
            return TensorArrays.wrap(y, R, N);
        }
        double[] y = new double[R * N];
        GroupedGemm.forward(offsets, K, N, 1.0, TensorArrays.doubles(x), 0, TensorArrays.doubles(w), 0, GroupedGemm.Layout.NK, 0.0, y, 0);
        return TensorArrays.wrap(y, R, N);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor[] out = new Tensor[2];
        int[] ws = ctx.inputShape(1);
        int E = ws[0], N = ws[1], K = ws[2], R = offsets[E];
        if (DeviceOps.onCuda(g)) {
            Tensor dy = g.to(ctx.inputDType(0));
            if (ctx.needsInputGrad(0)) {
                out[0] = CudaMoe.groupedGemmBackwardInput(DeviceOps.intBuffer(deviceOffsets), E, dy, ctx.saved(1), GroupedGemm.Layout.NK);
            }
            if (ctx.needsInputGrad(1)) {
                out[1] = CudaMoe.groupedGemmBackwardWeight(DeviceOps.intBuffer(deviceOffsets), E, ctx.saved(0), dy, GroupedGemm.Layout.NK);
            }
            return out;
        }
        boolean f32 = ctx.inputDType(0) == DType.F32;
        if (ctx.needsInputGrad(0)) {
            Tensor w = ctx.saved(1);
            if (f32) {
                float[] dx = new float[R * K];
                GroupedGemm.backwardInput(offsets, K, N, 1f, TensorArrays.floats(g.to(DType.F32)), 0, TensorArrays.floats(w), 0,
                        GroupedGemm.Layout.NK, 0f, dx, 0);
                out[0] = TensorArrays.wrap(dx, R, K);
            } else {
                double[] dx = new double[R * K];
                GroupedGemm.backwardInput(offsets, K, N, 1.0, TensorArrays.doubles(g.to(DType.F64)), 0, TensorArrays.doubles(w), 0,
                        GroupedGemm.Layout.NK, 0.0, dx, 0);
                out[0] = TensorArrays.wrap(dx, R, K);
            }
        }
        if (ctx.needsInputGrad(1)) {
            Tensor x = ctx.saved(0);
            if (f32) {
                float[] dw = new float[E * N * K];
                GroupedGemm.backwardWeight(offsets, K, N, 1f, TensorArrays.floats(x), 0, TensorArrays.floats(g.to(DType.F32)), 0,
                        0f, dw, 0, GroupedGemm.Layout.NK);
                out[1] = TensorArrays.wrap(dw, E, N, K);
            } else {
                double[] dw = new double[E * N * K];
                GroupedGemm.backwardWeight(offsets, K, N, 1.0, TensorArrays.doubles(x), 0, TensorArrays.doubles(g.to(DType.F64)), 0,
                        0.0, dw, 0, GroupedGemm.Layout.NK);
                out[1] = TensorArrays.wrap(dw, E, N, K);
            }
        }
        return out;
    }
}
