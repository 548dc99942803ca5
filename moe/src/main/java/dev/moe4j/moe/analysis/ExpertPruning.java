package dev.moe4j.moe.analysis;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * Task-specific expert pruning (Chen et al., "Task-Specific Expert Pruning for Sparse
 * Mixture-of-Experts"): on a downstream task only a few experts of a layer do most of the work, so
 * the layer can keep just those. Count how often each expert is chosen on the task's data
 * ({@link ExpertUsage}), keep the N most used, and rebuild the layer with only those experts and a
 * router restricted to them (its weight rows of the kept experts), to be fine-tuned or served at a
 * fraction of the memory.
 * <pre>
 *   keep = N expert ids (increasing)
 *   router':  W' = W[keep]           [N, d]   (selection bias, if any, sliced alike)
 *   experts': gate_up_proj[keep]     [N, 2f, d],  down_proj[keep] [N, d, f]
 * </pre>
 * For a renormalised softmax top-k router (Mixtral) a token whose k experts are all kept chooses the
 * same experts with the same weights afterwards (the softmax over the N kept logits, renormalised
 * over the same k, equals the renormalised full one), so its output is unchanged; a token that used
 * a pruned expert moves to its best kept ones. Without renormalisation (Qwen2-MoE) the weights grow
 * by the factor sum over all E of exp(logit) / sum over the N kept, since the pruned experts leave
 * the softmax. The copy is deep for the router and the experts; the shared expert and its gate (not
 * pruned) are the same modules as in the original layer. Input jitter is not carried over.
 *
 * <p>A layer on a CUDA device is pruned there: the new router and experts are moved to the device
 * of the original's router weight before the kept slices are copied into them (device to device).
 */
public final class ExpertPruning {
    private ExpertPruning() {}

    /**
     * The layer restricted to the n experts most used in {@code usage}.
     *
     * @see #prune(MoeLayer, int[])
     */
    public static MoeLayer prune(MoeLayer layer, ExpertUsage usage, int n) {
        if (usage.numExperts() != layer.experts().numExperts()) {
            throw new IllegalArgumentException("the usage counts " + usage.numExperts() + " experts, the layer has " + layer.experts().numExperts());
        }
        return prune(layer, usage.mostUsed(n));
    }

    /**
     * The layer restricted to the experts {@code keep}.
     *
     * @param layer a layer with a {@link SoftmaxTopKRouter}
     * @param keep  distinct expert ids in [0, E); at least k of them; used in increasing order
     * @return a new layer over N = keep.length experts (expert i of it is expert sorted(keep)[i] of the original)
     * @throws IllegalArgumentException for another router kind, fewer than k ids or repeated ids;
     *         IndexOutOfBoundsException for an id outside [0, E)
     */
    public static MoeLayer prune(MoeLayer layer, int[] keep) {
        if (!(layer.router() instanceof SoftmaxTopKRouter router)) {
            throw new IllegalArgumentException("expert pruning supports layers with a softmax top-k router, got " + layer.router().getClass().getSimpleName());
        }
        GroupedExperts experts = layer.experts();
        int E = experts.numExperts(), k = router.slotsPerToken();
        int[] ids = keep.clone();
        Arrays.sort(ids);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= E) throw new IndexOutOfBoundsException("expert id " + ids[i] + " outside [0, " + E + ")");
            if (i > 0 && ids[i] == ids[i - 1]) throw new IllegalArgumentException("expert " + ids[i] + " is listed twice");
        }
        if (ids.length < k) throw new IllegalArgumentException("keeping " + ids.length + " experts leaves fewer than k = " + k + " per token");
        int N = ids.length;
        Device device = router.weight().device();
        Tensor index = indexOf(ids).to(device);

        SoftmaxTopKRouter newRouter = new SoftmaxTopKRouter(router.hiddenSize(), N, k, router.renormalizes(), router.capacity(),
                router.selectionBias() != null, router.weight().dtype(), new Generator(0), 0.0);
        newRouter.failOnNaN(router.failsOnNaN());
        GroupedExperts newExperts = new GroupedExperts(N, experts.hiddenSize(), experts.intermediateSize(), experts.activation(), experts.gated(),
                experts.upProjection().dtype(), new Generator(0), 0.0);
        newRouter.to(device);
        newExperts.to(device);
        try (NoGrad scope = NoGrad.enter()) {
            newRouter.weight().copyFrom(router.weight().detach().indexSelect(0, index));
            if (router.selectionBias() != null) newRouter.selectionBias().copyFrom(router.selectionBias().indexSelect(0, index));
            newExperts.upProjection().copyFrom(experts.upProjection().detach().indexSelect(0, index));
            newExperts.downProjection().copyFrom(experts.downProjection().detach().indexSelect(0, index));
        }
        boolean gatedShared = layer.sharedExpertGate() != null;
        return new MoeLayer(newRouter, "gate", newExperts, layer.sharedExpert(), gatedShared ? "shared_expert" : "shared_experts",
                layer.sharedExpertGate(), layer.balancing(), 0, 0);
    }

    private static Tensor indexOf(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return Tensor.of(l, ids.length);
    }
}
