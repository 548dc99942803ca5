package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.kernels.cpu.moe.Permute;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaMoe;

/**
 * Permute as a differentiable function: token rows x [T, d] &rarr; expert-sorted rows xPerm [R, d],
 * {@code xPerm[r] = x[token(r)]} by a {@link RoutingPlan}.
 *
 * <p>Derivative: the unpermute-sum {@code dx[t] = sum over the kept slots j of t of dxPerm[row(t, j)]}
 * (a token with every slot dropped gets zero). F32 runs {@link Permute#permute}, F64 the double
 * reference. On a CUDA device (F32 or BF16) the device kernels {@link CudaMoe#permute} and
 * {@link CudaMoe#permuteBackward} run on a {@link DevicePlan} (a host plan is uploaded once).
 */
public final class PermuteTokens extends Function {
    private RoutingPlan plan;
    private DevicePlan devicePlan;

    /** @param plan the routing plan: T tokens, R kept rows */
    public PermuteTokens(RoutingPlan plan) {
        if (plan == null) throw new IllegalArgumentException("permute: routing plan is null");
        this.plan = plan;
    }

    /** @param plan a routing plan on a CUDA device (downloaded if the input turns out to be on the CPU) */
    public PermuteTokens(DevicePlan plan) {
        if (plan == null) throw new IllegalArgumentException("permute: routing plan is null");
        this.devicePlan = plan;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0];
        DeviceOps.requireCompute("permute", "x", x);
        int T = plan != null ? plan.numTokens() : devicePlan.numTokens();
        if (x.rank() != 2 || x.size(0) != T) {
            throw new IllegalArgumentException("permute: x must be [T, d] with T = " + T + " tokens of the plan, got " + Shape.str(x.shape()));
        }
        if (DeviceOps.onCuda(x)) {
            if (devicePlan == null || !devicePlan.device().equals(x.device())) devicePlan = DevicePlan.upload(hostPlan(), x.device());
            return CudaMoe.permute(devicePlan.kernelPlan(), x);
        }
        RoutingPlan plan = hostPlan();
        int d = x.size(1), R = plan.numRows();
        if (x.dtype() == DType.F32) {
            float[] out = new float[R * d];
            Permute.permute(plan, TensorArrays.floats(x), d, out);
            return TensorArrays.wrap(out, R, d);
        }
        double[] out = new double[R * d];
        Permute.permuteReference(plan, TensorArrays.doubles(x), d, out);
        return TensorArrays.wrap(out, R, d);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        if (DeviceOps.onCuda(g)) return new Tensor[] {CudaMoe.permuteBackward(devicePlan.kernelPlan(), g.to(ctx.inputDType(0)))};
        RoutingPlan plan = hostPlan();
        int d = ctx.inputShape(0)[1], T = plan.numTokens();
        if (ctx.inputDType(0) == DType.F32) {
            float[] dx = new float[T * d];
            Permute.permuteBackward(plan, TensorArrays.floats(g.to(DType.F32)), d, dx);
            return new Tensor[] {TensorArrays.wrap(dx, T, d)};
        }
        double[] dx = new double[T * d];
        Permute.permuteBackwardReference(plan, TensorArrays.doubles(g.to(DType.F64)), d, dx);
        return new Tensor[] {TensorArrays.wrap(dx, T, d)};
    }

    private RoutingPlan hostPlan() {
        if (plan == null) plan = devicePlan.toHost();
        return plan;
    }
}
