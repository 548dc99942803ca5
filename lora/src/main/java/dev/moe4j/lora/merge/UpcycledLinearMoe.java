package dev.moe4j.lora.merge;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.CombineExperts;
import dev.moe4j.moe.ops.DeviceOps;
import dev.moe4j.moe.ops.DevicePlan;
import dev.moe4j.moe.ops.GroupedLinear;
import dev.moe4j.moe.ops.PermuteTokens;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * An MoE whose experts are affine maps, the result of upcycling a {@code Linear} layer
 * ({@link Upcycling#linear}): E expert weights and biases behind a softmax top-k router with
 * renormalised gate weights.
 * <pre>
 *   ids, w = top-k of softmax(x W_g^T), renormalised        router {@code gate.weight} [E, in]
 *   y[t]   = sum_j w[t, j] (W_{ids[t, j]} x[t] + b_{ids[t, j]})
 *   experts.weight [E, out, in],  experts.bias [E, out] (or none)
 * </pre>
 * Computed as permute &rarr; one grouped GEMM &rarr; combine over the routing plan; the bias term is
 * {@code sum_j w[t, j] b_{ids[t, j]}}. Because the weights of a token sum to 1, E identical experts
 * give the dense layer's output whatever the router does. On a CUDA device the three steps run on the
 * routing's device plan (combining with the gate weights in F32) and the bias lookup reads the
 * device expert ids, so no part of the plan comes to the host.
 */
public final class UpcycledLinearMoe extends Module {
    private final SoftmaxTopKRouter router;
    private final Tensor weight, bias;
    private final int numExperts, in, out;
    private Routing lastRouting;

    /**
     * @param router the router over E experts reading in features
     * @param weight [E, out, in] expert weights (registered as they are)
     * @param bias   [E, out] expert biases, or null
     * @throws IllegalArgumentException when the shapes disagree
     */
    UpcycledLinearMoe(SoftmaxTopKRouter router, Tensor weight, Tensor bias) {
        if (weight.rank() != 3 || router.numExperts() != weight.size(0) || router.hiddenSize() != weight.size(2)) {
            throw new IllegalArgumentException("upcycled MoE: weight " + Shape.str(weight.shape()) + " does not fit a router over E = "
                    + router.numExperts() + " experts reading d = " + router.hiddenSize());
        }
        if (bias != null && (bias.rank() != 2 || bias.size(0) != weight.size(0) || bias.size(1) != weight.size(1))) {
            throw new IllegalArgumentException("upcycled MoE: bias " + Shape.str(bias.shape()) + " does not fit weight " + Shape.str(weight.shape()));
        }
        this.numExperts = weight.size(0);
        this.out = weight.size(1);
        this.in = weight.size(2);
        this.router = registerModule("gate", router);
        ExpertWeights experts = registerModule("experts", new ExpertWeights());
        this.weight = experts.add("weight", weight);
        this.bias = bias == null ? null : experts.add("bias", bias);
    }

    /** Holder of the stacked expert parameters (so they are named {@code experts.weight}, {@code experts.bias}). */
    private static final class ExpertWeights extends Module {
        Tensor add(String name, Tensor t) { return registerParameter(name, t); }

        @Override
        public Tensor forward(Tensor input) { throw new IllegalStateException("expert weights are not callable on their own"); }
    }

    /** The router. */
    public SoftmaxTopKRouter router() { return router; }

    /** [E, out, in]. */
    public Tensor weight() { return weight; }

    /** [E, out], or null. */
    public Tensor bias() { return bias; }

    /** E. */
    public int numExperts() { return numExperts; }

    /** The routing of the last forward, or null. */
    public Routing lastRouting() { return lastRouting; }

    /** x [..., in] &rarr; [..., out]. */
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 1 || x.size(-1) != in) throw new IllegalArgumentException("upcycled MoE: input " + Shape.str(x.shape()) + " does not end in in_features " + in);
        if (x.dtype() != weight.dtype()) throw new IllegalArgumentException("upcycled MoE: input dtype " + x.dtype() + " differs from the weight dtype " + weight.dtype());
        dev.moe4j.lora.DeviceChecks.require("upcycled MoE", x, weight);
        int T = x.numel() / in;
        Tensor x2 = F.reshape(x, T, in);
        Routing routing = router.route(x2);
        lastRouting = routing;
        Tensor w = routing.weights();
        Tensor y;
        if (DeviceOps.onCuda(x2)) {
            DevicePlan plan = routing.devicePlan(x2.device());
            Tensor yPerm = new GroupedLinear(plan.offsets()).apply(new PermuteTokens(plan).apply(x2), weight);
            y = new CombineExperts(plan).apply(yPerm, w.dtype() == DType.F32 ? w : F.to(w, DType.F32));
        } else {
            Tensor yPerm = new GroupedLinear(routing.plan().offsets()).apply(new PermuteTokens(routing.plan()).apply(x2), weight);
            y = new CombineExperts(routing.plan()).apply(yPerm, w);
        }
        if (bias != null) {
            int k = routing.topK();
            Tensor ids;                                                                          // [T, k]
            if (routing.deviceIds() != null && routing.deviceIds().device().equals(x2.device())) {
                ids = routing.deviceIds();
            } else {
                ids = Tensor.of(routing.expertIds().clone(), T, k).to(x2.device());
            }
            Tensor b = F.embedding(ids, bias);                                                   // [T, k, out]
            Tensor wb = w.dtype() == bias.dtype() ? w : F.to(w, bias.dtype());
            y = F.add(y, F.sum(F.mul(b, F.unsqueeze(wb, 2)), 1, false));
        }
        int[] shape = x.shape().clone();
        shape[shape.length - 1] = out;
        return F.reshape(y, shape);
    }

    @Override
    protected String describe() { return "E=" + numExperts + ", in=" + in + ", out=" + out + ", bias=" + (bias != null); }
}
