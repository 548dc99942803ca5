package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.kernels.cpu.moe.Combine;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaMoe;

/**
 * Combine as a differentiable function: (yPerm [R, d], weights [T, k]) &rarr; y [T, d], each token's
 * kept expert rows summed with their gate weights in slot order,
 * {@code y[t] = sum_j w[t, j] * yPerm[row(t, j)]} (dropped slots contribute nothing).
 *
 * <p>Derivative: {@code dyPerm[row(t, j)] = w[t, j] * dy[t]} and
 * {@code dw[t, j] = <dy[t], yPerm[row(t, j)]>} (0 for a dropped slot). F32 runs the fast
 * {@link Combine} kernels, F64 the double references. Deterministic (no atomics).
 *
 * <p>On a CUDA device the rows are F32 or BF16 and the gate weights are used as F32 (the device
 * kernels' {@link CudaMoe#combine} and {@link CudaMoe#combineBackward}; other weight dtypes are cast,
 * and their gradient comes back in their own dtype), on a {@link DevicePlan} (a host plan is
 * uploaded once).
 */
public final class CombineExperts extends Function {
    private RoutingPlan plan;
    private DevicePlan devicePlan;

    /** @param plan the routing plan: T tokens, k slots, R kept rows */
    public CombineExperts(RoutingPlan plan) {
        if (plan == null) throw new IllegalArgumentException("combine: routing plan is null");
        this.plan = plan;
    }

    /** @param plan a routing plan on a CUDA device (downloaded if the inputs turn out to be on the CPU) */
    public CombineExperts(DevicePlan plan) {
        if (plan == null) throw new IllegalArgumentException("combine: routing plan is null");
        this.devicePlan = plan;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor yPerm = in[0], w = in[1];
        DeviceOps.requireCompute("combine", "yPerm", yPerm);
        boolean cuda = DeviceOps.onCuda(yPerm);
        if (!cuda) TensorArrays.requireSameDType("combine", "yPerm", yPerm, "weights", w);
        int T = plan != null ? plan.numTokens() : devicePlan.numTokens();
        int k = plan != null ? plan.topK() : devicePlan.topK();
        int R = plan != null ? plan.numRows() : devicePlan.numRows();
        if (yPerm.rank() != 2 || yPerm.size(0) != R) {
            throw new IllegalArgumentException("combine: yPerm must be [R, d] with R = " + R + " rows of the plan, got " + Shape.str(yPerm.shape()));
        }
        TensorArrays.requireShape("combine", "weights", w, T, k);
        if (cuda) {
            if (!w.dtype().isFloatingPoint()) throw new IllegalArgumentException("combine: weights must be floating point, got " + w.dtype());
            if (devicePlan == null || !devicePlan.device().equals(yPerm.device())) devicePlan = DevicePlan.upload(hostPlan(), yPerm.device());
            Tensor w32 = w.to(DType.F32);
            ctx.save(yPerm, w32);
            return CudaMoe.combine(devicePlan.kernelPlan(), w32, yPerm);
        }
        RoutingPlan plan = hostPlan();
        int d = yPerm.size(1);
        ctx.save(ctx.needsInputGrad(1) ? yPerm : null, ctx.needsInputGrad(0) ? w : null);
        if (yPerm.dtype() == DType.F32) {
            float[] y = new float[T * d];
            Combine.combine(plan, TensorArrays.floats(w), TensorArrays.floats(yPerm), d, y);
            return TensorArrays.wrap(y, T, d);
        }
        double[] y = new double[T * d];
        Combine.combineReference(plan, TensorArrays.doubles(w), TensorArrays.doubles(yPerm), d, y);
        return TensorArrays.wrap(y, T, d);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        boolean needY = ctx.needsInputGrad(0), needW = ctx.needsInputGrad(1);
        Tensor[] out = new Tensor[2];
        if (!needY && !needW) return out;
        if (DeviceOps.onCuda(g)) {
            CudaMoe.CombineGrads grads = CudaMoe.combineBackward(devicePlan.kernelPlan(), ctx.saved(1), ctx.saved(0), g.to(ctx.inputDType(0)));
            if (needY) out[0] = grads.dyPerm();
            if (needW) out[1] = grads.dWeights().to(ctx.inputDType(1));
            return out;
        }
        RoutingPlan plan = hostPlan();
        int d = ctx.inputShape(0)[1], R = plan.numRows(), T = plan.numTokens(), k = plan.topK();
        Tensor yPerm = ctx.saved(0), w = ctx.saved(1);
        if (ctx.inputDType(0) == DType.F32) {
            float[] dyPerm = needY ? new float[R * d] : null, dw = needW ? new float[T * k] : null;
            float[] wa = needY ? TensorArrays.floats(w) : new float[T * k];
            float[] ya = needW ? TensorArrays.floats(yPerm) : new float[R * d];
            Combine.combineBackward(plan, wa, ya, TensorArrays.floats(g.to(DType.F32)), d, dyPerm, dw);
            if (needY) out[0] = TensorArrays.wrap(dyPerm, R, d);
            if (needW) out[1] = TensorArrays.wrap(dw, T, k);
            return out;
        }
        double[] dyPerm = needY ? new double[R * d] : null, dw = needW ? new double[T * k] : null;
        double[] wa = needY ? TensorArrays.doubles(w) : new double[T * k];
        double[] ya = needW ? TensorArrays.doubles(yPerm) : new double[R * d];
        Combine.combineBackwardReference(plan, wa, ya, TensorArrays.doubles(g.to(DType.F64)), d, dyPerm, dw);
        if (needY) out[0] = TensorArrays.wrap(dyPerm, R, d);
        if (needW) out[1] = TensorArrays.wrap(dw, T, k);
        return out;
    }

    private RoutingPlan hostPlan() {
        if (plan == null) plan = devicePlan.toHost();
        return plan;
    }
}
