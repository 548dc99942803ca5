package dev.moe4j.moe.experts;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.ops.ExpertActivationFunction;
import dev.moe4j.moe.ops.ParameterInit;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Experts of different sizes, as in HMoE (Wang et al., "HMoE: Heterogeneous Mixture of Experts for
 * Language Modeling"): expert e is an FFN with its own hidden width f_e, so that small experts can
 * take the easy tokens and large ones the hard tokens.
 * <pre>
 *   expert e (sub-module "e"):
 *     gated: gate_up_proj [2 f_e, d] (gate rows first), down_proj [d, f_e]
 *            y = down_e( act(gate_e x) * up_e x )                       (SwiGLU with SILU)
 *     plain: up_proj [f_e, d], down_proj [d, f_e],  y = down_e( act(up_e x) )
 * </pre>
 *
 * <p>Computation on the expert-sorted rows of a routing plan: a loop over the E experts, each taking
 * its row range {@code offsets[e] .. offsets[e+1]-1} through two dense products of its exact size;
 * the E outputs are concatenated back in row order. Why a loop and not one grouped GEMM over
 * weights padded to max f_e: padding costs (max f - f_e) / max f of the work of every small expert
 * (in HMoE the sizes differ several-fold, and making small experts cheap is the point), and would
 * need masked gradients for the padding; the loop does exactly the useful FLOPs, and its E calls are
 * negligible next to the products for the expert counts HMoE uses (tens).
 *
 * <p>The loop reads only the host offsets, so on a CUDA device the products, activations and the
 * concatenation run there as ordinary tensor ops, in the rows' dtype.
 */
public final class HeterogeneousExperts extends Module {
    private final int hiddenSize;
    private final int[] sizes;
    private final ExpertActivation activation;
    private final boolean gated;
    private final List<Expert> experts = new ArrayList<>();

    /** One expert: its two projections. */
    private static final class Expert extends Module {
        final Tensor up, down;

        Expert(int d, int f, boolean gated, DType dtype, Generator gen, double std) {
            this.up = registerParameter(gated ? "gate_up_proj" : "up_proj", ParameterInit.normal(gen, dtype, std, gated ? 2 * f : f, d));
            this.down = registerParameter("down_proj", ParameterInit.normal(gen, dtype, std, d, f));
        }

        @Override
        public Tensor forward(Tensor x) { throw new UnsupportedOperationException("an expert runs through HeterogeneousExperts.forward(xPerm, offsets)"); }
    }

    /**
     * @param hiddenSize        d
     * @param intermediateSizes f_e of each expert [E], each &gt;= 1
     * @param activation        the nonlinearity
     * @param gated             GLU experts (gate_up_proj) or plain ones (up_proj)
     * @param dtype             parameter dtype (F32 or F64)
     * @param gen               source of the initial weights
     * @param initStd           standard deviation of the initial weights
     * @throws IllegalArgumentException for no experts, a size below 1 or a null activation
     */
    public HeterogeneousExperts(int hiddenSize, int[] intermediateSizes, ExpertActivation activation, boolean gated, DType dtype,
                                Generator gen, double initStd) {
        if (intermediateSizes == null || intermediateSizes.length == 0) throw new IllegalArgumentException("heterogeneous experts need at least one expert size");
        if (hiddenSize < 1) throw new IllegalArgumentException("the hidden size d must be >= 1, got " + hiddenSize);
        for (int e = 0; e < intermediateSizes.length; e++) {
            if (intermediateSizes[e] < 1) throw new IllegalArgumentException("expert " + e + " has intermediate size " + intermediateSizes[e] + "; need >= 1");
        }
        if (activation == null) throw new IllegalArgumentException("expert activation is null");
        this.hiddenSize = hiddenSize;
        this.sizes = intermediateSizes.clone();
        this.activation = activation;
        this.gated = gated;
        for (int e = 0; e < sizes.length; e++) experts.add(registerModule(String.valueOf(e), new Expert(hiddenSize, sizes[e], gated, dtype, gen, initStd)));
    }

    /** E. */
    public int numExperts() { return sizes.length; }

    /** d. */
    public int hiddenSize() { return hiddenSize; }

    /** f_e of each expert [E] (a copy). */
    public int[] intermediateSizes() { return sizes.clone(); }

    /** The nonlinearity. */
    public ExpertActivation activation() { return activation; }

    /** Whether the experts are gated (GLU). */
    public boolean gated() { return gated; }

    /** Parameters of expert e: (2 f_e + f_e) d for a gated expert, 2 f_e d for a plain one. */
    public long parameterCount(int e) { return (long) (gated ? 3 : 2) * sizes[e] * hiddenSize; }

    /** Parameters of every expert [E], as doubles (the sizes the parameter penalty loss weighs). */
    public double[] parameterCounts() {
        double[] s = new double[sizes.length];
        for (int e = 0; e < s.length; e++) s[e] = parameterCount(e);
        return s;
    }

    /** {@code gate_up_proj} [2 f_e, d] (gated) or {@code up_proj} [f_e, d] of expert e. */
    public Tensor upProjection(int e) { return experts.get(e).up; }

    /** {@code down_proj} [d, f_e] of expert e. */
    public Tensor downProjection(int e) { return experts.get(e).down; }

    /**
     * The experts on expert-sorted rows.
     *
     * @param xPerm   [R, d] rows sorted by expert
     * @param offsets [E + 1] non-decreasing row offsets, offsets[0] = 0, offsets[E] = R
     * @return yPerm [R, d]
     * @throws IllegalArgumentException when the shapes or offsets do not fit
     */
    public Tensor forward(Tensor xPerm, int[] offsets) {
        int E = sizes.length;
        if (offsets == null || offsets.length != E + 1) {
            throw new IllegalArgumentException("heterogeneous experts: need E + 1 = " + (E + 1) + " offsets, got " + (offsets == null ? "null" : offsets.length));
        }
        if (xPerm.rank() != 2 || xPerm.size(1) != hiddenSize) {
            throw new IllegalArgumentException("heterogeneous experts: rows must be [R, d = " + hiddenSize + "], got " + Shape.str(xPerm.shape()));
        }
        if (offsets[0] != 0 || offsets[E] != xPerm.size(0)) {
            throw new IllegalArgumentException("heterogeneous experts: offsets must run from 0 to R = " + xPerm.size(0) + ", got " + offsets[0] + " .. " + offsets[E]);
        }
        for (int e = 0; e < E; e++) {
            if (offsets[e + 1] < offsets[e]) throw new IllegalArgumentException("heterogeneous experts: offsets decrease at expert " + e);
        }
        List<Tensor> parts = new ArrayList<>();
        for (int e = 0; e < E; e++) {
            int n = offsets[e + 1] - offsets[e];
            if (n == 0) continue;
            Tensor rows = F.narrow(xPerm, 0, offsets[e], n);
            Tensor h = F.linear(rows, experts.get(e).up, null);
            Tensor a = new ExpertActivationFunction(activation, gated).apply(h);
            parts.add(F.linear(a, experts.get(e).down, null));
        }
        if (parts.isEmpty()) return Tensor.zeros(xPerm.dtype(), xPerm.device(), 0, hiddenSize);
        return parts.size() == 1 ? parts.get(0) : F.cat(parts, 0);
    }

    /** Not a layer on its own: call {@link #forward(Tensor, int[])} with a routing plan's offsets. */
    @Override
    public Tensor forward(Tensor x) {
        throw new UnsupportedOperationException("heterogeneous experts run on expert-sorted rows: forward(xPerm, offsets)");
    }

    @Override
    protected String describe() {
        return "E=" + sizes.length + ", d=" + hiddenSize + ", f=" + java.util.Arrays.toString(sizes) + ", " + activation + (gated ? " gated" : "");
    }
}
