package dev.moe4j.moe.methods;

import dev.moe4j.autograd.F;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.CombineExperts;
import dev.moe4j.moe.ops.DeviceOps;
import dev.moe4j.moe.ops.DevicePlan;
import dev.moe4j.moe.ops.PermuteTokens;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.function.BiFunction;

/**
 * The dispatch that every routed layer shares, for experts of any kind:
 * <pre>
 *   xPerm = permute(x, plan)               [R, d]   token rows sorted by expert
 *   yPerm = experts(xPerm, plan.offsets)   [R, d]   rows offsets[e] .. offsets[e+1]-1 through expert e
 *   y     = combine(yPerm, weights, plan)  [T, d]   each token's rows summed with its gate weights
 * </pre>
 * All three steps are differentiable, so gradients reach x, the gate weights and whatever the
 * experts function holds.
 *
 * <p>On a CUDA device the three steps run on the routing's {@link DevicePlan} (built there, or the
 * host plan uploaded once); the experts function receives the per-expert offsets on the host, and
 * the gate weights enter combine as F32 (the device kernels' weight type), whatever the rows' dtype.
 */
public final class Dispatch {
    private Dispatch() {}

    /**
     * Runs token rows through their routed experts.
     *
     * @param x       [T, d] token rows
     * @param routing the routing of those T tokens
     * @param experts (xPerm [R, d], offsets [E + 1]) &rarr; yPerm [R, d']
     * @return [T, d']
     * @throws IllegalArgumentException when x is not [T, d] for the routing's T
     */
    public static Tensor through(Tensor x, Routing routing, BiFunction<Tensor, int[], Tensor> experts) {
        if (x.rank() != 2 || x.size(0) != routing.numTokens()) {
            throw new IllegalArgumentException("dispatch: x must be [T = " + routing.numTokens() + ", d], got " + Shape.str(x.shape()));
        }
        if (DeviceOps.onCuda(x)) {
            DevicePlan plan = routing.devicePlan(x.device());
            Tensor xPerm = new PermuteTokens(plan).apply(x);
            Tensor yPerm = experts.apply(xPerm, plan.offsets());
            Tensor w = routing.weights().dtype() == DType.F32 ? routing.weights() : F.to(routing.weights(), DType.F32);
            return new CombineExperts(plan).apply(yPerm, w);
        }
        Tensor xPerm = new PermuteTokens(routing.plan()).apply(x);
        Tensor yPerm = experts.apply(xPerm, routing.plan().offsets());
        Tensor w = routing.weights().dtype() == yPerm.dtype() ? routing.weights() : F.to(routing.weights(), yPerm.dtype());
        return new CombineExperts(routing.plan()).apply(yPerm, w);
    }
}
