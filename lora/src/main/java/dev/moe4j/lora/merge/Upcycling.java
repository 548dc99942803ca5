package dev.moe4j.lora.merge;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.SwiGLUMlp;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * From dense layers to an MoE and back.
 *
 * <h2>Upcycling (dense &rarr; MoE)</h2>
 * Sparse upcycling (Komatsuzaki et al. 2023, "Sparse Upcycling: Training Mixture-of-Experts from
 * Dense Checkpoints") initialises every expert of a new MoE layer as a copy of the dense layer and
 * adds a freshly initialised router. UpIT ("Upcycling Instruction Tuning from Dense to
 * Mixture-of-Experts via Parameter Merging", Hui et al. 2024) uses several different dense
 * checkpoints of one layer (intermediate checkpoints of instruction tuning) as the experts. Both are
 * the list forms here: {@link #linear(List, int, Generator)} and {@link #swiglu(List, int, Generator)}
 * take one dense layer per expert; {@link #linear(Linear, int, int, Generator)} and
 * {@link #swiglu(SwiGLUMlp, int, int, Generator)} take E copies of one. The router is softmax top-k
 * with renormalised weights (Mixtral's gating), so E identical experts reproduce the dense layer
 * exactly, whatever the router decides.
 * <pre>
 *   Linear W [out, in], b [out]                    -&gt; {@link UpcycledLinearMoe}: W_e = W, b_e = b
 *   SwiGLU gate, up [f, d], down [d, f]            -&gt; {@link MoeLayer}: gate_up_proj[e] = [gate; up] [2f, d],
 *                                                     down_proj[e] = down [d, f], SiLU gated experts
 * </pre>
 *
 * <h2>Parameter merging (MoE &rarr; dense)</h2>
 * The way back averages the experts' parameters (the merging step of UpIT-style pipelines, and
 * "merge the experts into one dense layer" for deployment): {@code W = sum_e c_e W_e} with
 * c = 1/E by default. Averaging E identical experts gives the dense layer back.
 *
 * <h2>Devices</h2>
 * Every result lives on the device of its input (the CPU or a CUDA device): the experts are copied
 * there, the fresh router's initial weights are drawn on the host with the given generator and moved
 * there (so the same seed gives the same router on every device), and a merge is made there.
 */
public final class Upcycling {
    private Upcycling() {}

    /** Standard deviation of the fresh router's initial weights. */
    public static final double ROUTER_INIT_STD = 0.02;

    /** E copies of {@code dense} behind a fresh top-k router. */
    public static UpcycledLinearMoe linear(Linear dense, int numExperts, int topK, Generator gen) {
        if (numExperts < 1) throw new IllegalArgumentException("upcycling needs E >= 1 experts, got " + numExperts);
        return linear(Collections.nCopies(numExperts, dense), topK, gen);
    }

    /**
     * An MoE whose expert e starts as {@code experts.get(e)} (weights copied), with a fresh top-k router.
     *
     * @param topK k in [1, E]
     * @param gen  source of the router's initial weights (normal, std {@link #ROUTER_INIT_STD})
     * @throws IllegalArgumentException for no experts, layers of different shapes, dtypes, devices or bias
     *         presence, or k outside [1, E]
     */
    public static UpcycledLinearMoe linear(List<Linear> experts, int topK, Generator gen) {
        if (experts == null || experts.isEmpty()) throw new IllegalArgumentException("upcycling needs at least one dense layer");
        Linear first = experts.get(0);
        int out = first.weight().size(0), in = first.weight().size(1), e = experts.size();
        DType dtype = first.weight().dtype();
        Device device = first.weight().device();
        for (Linear l : experts) {
            if (!Arrays.equals(l.weight().shape(), first.weight().shape()) || l.weight().dtype() != dtype || (l.bias() == null) != (first.bias() == null)) {
                throw new IllegalArgumentException("dense layers differ: weight " + Shape.str(first.weight().shape()) + " " + dtype + (first.bias() != null ? " with" : " without")
                        + " bias vs " + Shape.str(l.weight().shape()) + " " + l.weight().dtype() + (l.bias() != null ? " with" : " without") + " bias");
            }
            requireDevice(device, l.weight().device());
        }
        SoftmaxTopKRouter router = new SoftmaxTopKRouter(in, e, topK, true, Capacity.unlimited(), false, dtype, gen, ROUTER_INIT_STD);
        router.to(device);
        Tensor w = Tensor.zeros(dtype, device, e, out, in);
        Tensor b = first.bias() == null ? null : Tensor.zeros(dtype, device, e, out);
        try (NoGrad scope = NoGrad.enter()) {
            for (int i = 0; i < e; i++) {
                w.select(0, i).copyFrom(experts.get(i).weight().detach());
                if (b != null) b.select(0, i).copyFrom(experts.get(i).bias().detach());
            }
        }
        return new UpcycledLinearMoe(router, w.setRequiresGrad(true), b == null ? null : b.setRequiresGrad(true));
    }

    /** E copies of a SwiGLU MLP as an MoE layer with a fresh top-k router. */
    public static MoeLayer swiglu(SwiGLUMlp dense, int numExperts, int topK, Generator gen) {
        if (numExperts < 1) throw new IllegalArgumentException("upcycling needs E >= 1 experts, got " + numExperts);
        return swiglu(Collections.nCopies(numExperts, dense), topK, gen);
    }

    /**
     * An MoE layer of SiLU-gated experts, expert e copied from {@code experts.get(e)}, with a fresh
     * softmax top-k router (renormalised), no shared expert and no balancing loss.
     *
     * @throws IllegalArgumentException for no MLPs, MLPs of different sizes, dtypes or devices, or k outside [1, E]
     */
    public static MoeLayer swiglu(List<SwiGLUMlp> experts, int topK, Generator gen) {
        if (experts == null || experts.isEmpty()) throw new IllegalArgumentException("upcycling needs at least one dense MLP");
        Tensor g0 = param(experts.get(0), "gate_proj.weight");
        int f = g0.size(0), d = g0.size(1), e = experts.size();
        DType dtype = g0.dtype();
        Device device = g0.device();
        for (SwiGLUMlp m : experts) {
            Tensor g = param(m, "gate_proj.weight");
            if (!Arrays.equals(g.shape(), g0.shape()) || g.dtype() != dtype) {
                throw new IllegalArgumentException("dense MLPs differ: gate_proj " + Shape.str(g0.shape()) + " " + dtype + " vs " + Shape.str(g.shape()) + " " + g.dtype());
            }
            for (Tensor t : m.parameters()) requireDevice(device, t.device());
        }
        SoftmaxTopKRouter router = new SoftmaxTopKRouter(d, e, topK, true, Capacity.unlimited(), false, dtype, gen, ROUTER_INIT_STD);
        GroupedExperts grouped = new GroupedExperts(e, d, f, ExpertActivation.SILU, true, dtype, gen, ROUTER_INIT_STD);
        router.to(device);
        grouped.to(device);
        try (NoGrad scope = NoGrad.enter()) {
            for (int i = 0; i < e; i++) {
                SwiGLUMlp m = experts.get(i);
                Tensor up = grouped.upProjection().select(0, i);
                up.narrow(0, 0, f).copyFrom(param(m, "gate_proj.weight").detach());
                up.narrow(0, f, f).copyFrom(param(m, "up_proj.weight").detach());
                grouped.downProjection().select(0, i).copyFrom(param(m, "down_proj.weight").detach());
            }
        }
        MoeLayer moe = new MoeLayer(router, "gate", grouped, null, "shared_experts", null, Balancing.none(), 0.0, gen.nextLong());
        moe.to(device);
        return moe;
    }

    /** @throws IllegalArgumentException when a dense layer's tensor is not on the first layer's device */
    private static void requireDevice(Device want, Device got) {
        if (!want.equals(got)) throw new IllegalArgumentException("dense layers on different devices: " + want + " and " + got + " (move them to one device first)");
    }

    private static Tensor param(SwiGLUMlp m, String name) {
        Tensor t = m.namedParameters().get(name);
        if (t == null) throw new IllegalArgumentException("SwiGLU MLP has no parameter " + name);
        return t;
    }

    private static double[] weightsOrUniform(double[] c, int e) {
        if (c == null) {
            double[] u = new double[e];
            Arrays.fill(u, 1.0 / e);
            return u;
        }
        if (c.length != e) throw new IllegalArgumentException(c.length + " merge weights for E = " + e + " experts");
        for (double v : c) if (!Double.isFinite(v)) throw new IllegalArgumentException("merge weights must be finite, got " + Arrays.toString(c));
        return c;
    }

    /** sum_e c_e t[e] over dim 0 of a stacked [E, ...] tensor (no graph). */
    private static Tensor average(Tensor stacked, double[] c) {
        Tensor sum = null;
        for (int e = 0; e < c.length; e++) {
            Tensor term = stacked.select(0, e).mul(c[e]);
            sum = sum == null ? term : sum.add(term);
        }
        return sum;
    }

    /** The uniform average of the experts as one Linear. */
    public static Linear mergeToDense(UpcycledLinearMoe moe) { return mergeToDense(moe, null); }

    /**
     * The experts merged into one Linear: {@code W = sum_e c_e W_e}, {@code b = sum_e c_e b_e}.
     *
     * @param weights c [E], or null for 1/E each
     * @throws IllegalArgumentException for a wrong number of weights or a non-finite weight
     */
    public static Linear mergeToDense(UpcycledLinearMoe moe, double[] weights) {
        int e = moe.numExperts();
        double[] c = weightsOrUniform(weights, e);
        Tensor w = moe.weight().detach();
        Linear dense = new Linear(w.size(2), w.size(1), moe.bias() != null, w.dtype(), new Generator(0));
        dense.to(w.device());
        try (NoGrad scope = NoGrad.enter()) {
            dense.weight().copyFrom(average(w, c));
            if (moe.bias() != null) dense.bias().copyFrom(average(moe.bias().detach(), c));
        }
        return dense;
    }

    /** The uniform average of a SiLU-gated MoE layer's experts as one SwiGLU MLP. */
    public static SwiGLUMlp mergeToDense(MoeLayer moe) { return mergeToDense(moe, null); }

    /**
     * The routed experts of a SiLU-gated MoE layer merged into one SwiGLU MLP:
     * {@code gate = sum_e c_e gate_e}, likewise up and down.
     *
     * @param weights c [E], or null for 1/E each
     * @throws IllegalArgumentException for experts that are not SiLU-gated, a layer with a shared
     *         expert (it has no place in one MLP), or bad weights
     */
    public static SwiGLUMlp mergeToDense(MoeLayer moe, double[] weights) {
        GroupedExperts g = moe.experts();
        if (!g.gated() || g.activation() != ExpertActivation.SILU) {
            throw new IllegalArgumentException("only SiLU-gated experts merge into a SwiGLU MLP; these are " + g.activation() + (g.gated() ? " gated" : " plain"));
        }
        if (moe.sharedExpert() != null) throw new IllegalArgumentException("the MoE layer has a shared expert, which a single SwiGLU MLP cannot hold");
        double[] c = weightsOrUniform(weights, g.numExperts());
        int f = g.intermediateSize(), d = g.hiddenSize();
        DType dtype = g.upProjection().dtype();
        SwiGLUMlp dense = new SwiGLUMlp(d, f, dtype, new Generator(0));
        dense.to(g.upProjection().device());
        try (NoGrad scope = NoGrad.enter()) {
            Tensor up = average(g.upProjection().detach(), c);
            param(dense, "gate_proj.weight").copyFrom(up.narrow(0, 0, f));
            param(dense, "up_proj.weight").copyFrom(up.narrow(0, f, f));
            param(dense, "down_proj.weight").copyFrom(average(g.downProjection().detach(), c));
        }
        return dense;
    }
}
