package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.ops.CombineExperts;
import dev.moe4j.moe.ops.DeviceOps;
import dev.moe4j.moe.ops.DevicePlan;
import dev.moe4j.moe.ops.GroupedLinear;
import dev.moe4j.moe.ops.PermuteTokens;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.Plans;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Many LoRA adapters in one batch (Punica's segmented gather matmul, S-LoRA): each token carries an
 * adapter id, and the low-rank update of every token is computed with two grouped GEMMs over the
 * tokens grouped by adapter.
 *
 * <h2>Shapes</h2>
 * <pre>
 *   x        [T, in]        tokens
 *   ids      [T]            adapter of each token in [0, N), or -1 for none (base layer only)
 *   A_i      [r_i, in]      shrink of adapter i        B_i [out, r_i]   expand of adapter i
 *   s_i                     scaling of adapter i
 *   delta    [T, out]       delta[t] = s_i * B_i A_i x[t] for i = ids[t], 0 for ids[t] = -1
 * </pre>
 *
 * <h2>Algorithm</h2>
 * <ol>
 *   <li>routing plan with k = 1: a histogram of the ids, an exclusive prefix sum into offsets [N + 1]
 *       and a stable scatter of the tokens in id order (tokens with id -1 are left out, as a router's
 *       unselected pairs), {@link Plans#build};</li>
 *   <li>permute: xPerm [R, in], the tokens of adapter 0 first, then adapter 1, ...;</li>
 *   <li>shrink: {@code h[rows_i] = xPerm[rows_i] A_i^T}, one grouped GEMM [R, in] x [N, rMax, in];</li>
 *   <li>expand: {@code yPerm[rows_i] = h[rows_i] B_i^T}, one grouped GEMM [R, rMax] x [N, out, rMax];</li>
 *   <li>combine with weight s_i per token: {@code delta[t] = s_i * yPerm[row(t)]} (the unpermute).</li>
 * </ol>
 * Every step is a differentiable function (permute, grouped linear, combine from the MoE module), so
 * the gradients of x and of every A_i and B_i come from the same grouped GEMMs run backwards.
 *
 * <h2>Different ranks</h2>
 * Adapters of different ranks share one batch by padding: A_i gets {@code rMax - r_i} zero rows and
 * B_i as many zero columns, so that every group has the same inner size rMax. The padding is exact
 * (the padded part of h is zero and meets zero columns of B), and gradients flow to the unpadded
 * parameters only. Its cost is the FLOPs of rMax instead of r_i for the small adapters; grouping
 * adapters by rank into separate grouped GEMMs would avoid that when ranks differ widely.
 *
 * <h2>On a CUDA device</h2>
 * The plan is built on the host from the host ids (T ints) and uploaded once; permute, the two
 * grouped GEMMs (on the uploaded offsets) and the combine run as the device kernels, forward and
 * backward. Dropout masks are drawn on the host from the same generators and uploaded.
 */
public final class SegmentedLora {
    private SegmentedLora() {}

    /**
     * The routing plan of a mixed batch: k = 1, group i = tokens with id i, tokens with id -1 left out.
     *
     * @throws IndexOutOfBoundsException for an id outside [-1, N)
     */
    public static RoutingPlan plan(int[] ids, int numAdapters) {
        boolean[] selected = new boolean[ids.length];
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] < -1 || ids[t] >= numAdapters) {
                throw new IndexOutOfBoundsException("adapter id " + ids[t] + " of token " + t + " is outside [-1, " + numAdapters + ")");
            }
            selected[t] = ids[t] >= 0;
        }
        return Plans.build(ids, selected, null, ids.length, 1, numAdapters, Capacity.unlimited());
    }

    private static void check(Tensor x, int[] ids, List<Tensor> a, List<Tensor> b, double[] scaling) {
        int n = a.size();
        if (n == 0 || b.size() != n || scaling.length != n) {
            throw new IllegalArgumentException("need N >= 1 adapters with one A, B and scaling each, got " + a.size() + " A, " + b.size()
                    + " B, " + scaling.length + " scalings");
        }
        if (x.rank() != 2) throw new IllegalArgumentException("x must be [T, in], got " + Shape.str(x.shape()));
        if (ids.length != x.size(0)) throw new IllegalArgumentException(ids.length + " adapter ids for " + x.size(0) + " tokens of x " + Shape.str(x.shape()));
        int in = x.size(1), out = b.get(0).size(0);
        for (int i = 0; i < n; i++) {
            Tensor ai = a.get(i), bi = b.get(i);
            if (ai.rank() != 2 || ai.size(1) != in || bi.rank() != 2 || bi.size(0) != out || bi.size(1) != ai.size(0)) {
                throw new IllegalArgumentException("adapter " + i + ": A " + Shape.str(ai.shape()) + " and B " + Shape.str(bi.shape())
                        + " do not fit A [r, in = " + in + "], B [out = " + out + ", r]");
            }
            if (ai.dtype() != x.dtype() || bi.dtype() != x.dtype()) {
                throw new IllegalArgumentException("adapter " + i + " is " + ai.dtype() + "/" + bi.dtype() + ", x is " + x.dtype());
            }
        }
    }

    /** max r_i. */
    static int maxRank(List<Tensor> a) {
        int r = 0;
        for (Tensor t : a) r = Math.max(r, t.size(0));
        return r;
    }

    /** [N, rMax, in]: each A_i with zero rows appended. */
    static Tensor stackA(List<Tensor> a, int rMax) {
        List<Tensor> padded = new ArrayList<>();
        for (Tensor ai : a) {
            int r = ai.size(0);
            padded.add(r == rMax ? ai : F.cat(List.of(ai, DeviceOps.zeros(ai.dtype(), ai.device(), rMax - r, ai.size(1))), 0));
        }
        return F.stack(padded, 0);
    }

    /** [N, out, rMax]: each B_i with zero columns appended. */
    static Tensor stackB(List<Tensor> b, int rMax) {
        List<Tensor> padded = new ArrayList<>();
        for (Tensor bi : b) {
            int r = bi.size(1);
            padded.add(r == rMax ? bi : F.cat(List.of(bi, DeviceOps.zeros(bi.dtype(), bi.device(), bi.size(0), rMax - r)), 1));
        }
        return F.stack(padded, 0);
    }

    /**
     * The low-rank updates of a mixed batch, grouped (see the class comment).
     *
     * @param x       [T, in]
     * @param ids     [T] adapter per token, -1 for none
     * @param a       A_i [r_i, in]
     * @param b       B_i [out, r_i]
     * @param scaling s_i
     * @return delta [T, out]
     * @throws IllegalArgumentException when shapes or dtypes do not fit; IndexOutOfBoundsException for a bad id
     */
    public static Tensor delta(Tensor x, int[] ids, List<Tensor> a, List<Tensor> b, double[] scaling) {
        return delta(x, ids, a, b, scaling, null, null, false);
    }

    /**
     * {@link #delta(Tensor, int[], List, List, double[])} with inverted dropout on each adapter's
     * input rows in training: rows of adapter i are kept with probability {@code 1 - p_i} (masks from
     * {@code generators[i]}) and scaled by {@code 1 / (1 - p_i)}.
     *
     * @param dropout    p_i per adapter, or null for none
     * @param generators mask source per adapter (used where p_i &gt; 0)
     * @param training   whether dropout is active
     */
    public static Tensor delta(Tensor x, int[] ids, List<Tensor> a, List<Tensor> b, double[] scaling,
                               double[] dropout, Generator[] generators, boolean training) {
        check(x, ids, a, b, scaling);
        int n = a.size(), T = x.size(0), in = x.size(1);
        RoutingPlan plan = plan(ids, n);
        int[] offsets = plan.offsets();
        int rMax = maxRank(a);
        DevicePlan devicePlan = DeviceOps.onCuda(x) ? DevicePlan.upload(plan, x.device()) : null;
        Tensor xPerm = (devicePlan != null ? new PermuteTokens(devicePlan) : new PermuteTokens(plan)).apply(x);
        if (training && dropout != null) xPerm = F.mul(xPerm, dropoutMask(offsets, in, dropout, generators, x.dtype()).to(x.device()));
        Tensor h = new GroupedLinear(offsets).apply(xPerm, stackA(a, rMax));
        Tensor yPerm = new GroupedLinear(offsets).apply(h, stackB(b, rMax));
        double[] s = new double[T];
        for (int t = 0; t < T; t++) s[t] = ids[t] >= 0 ? scaling[ids[t]] : 0;
        Tensor w = Tensor.of(s, T, 1).to(x.dtype()).to(x.device());
        return (devicePlan != null ? new CombineExperts(devicePlan) : new CombineExperts(plan)).apply(yPerm, w);
    }

    /** [R, in] inverted-dropout mask: rows of group i kept with probability 1 - p_i. */
    private static Tensor dropoutMask(int[] offsets, int in, double[] p, Generator[] gens, DType dtype) {
        int rows = offsets[offsets.length - 1];
        double[] m = new double[rows * in];
        for (int i = 0; i + 1 < offsets.length; i++) {
            double keep = 1 - p[i];
            for (int j = offsets[i] * in; j < offsets[i + 1] * in; j++) {
                m[j] = p[i] == 0 ? 1 : (gens[i].nextDouble() >= p[i] ? 1 / keep : 0);
            }
        }
        return Tensor.of(m, rows, in).to(dtype);
    }

    /**
     * The same updates computed with a loop over the adapters: for each adapter, gather its tokens,
     * apply {@code s_i (x A_i^T) B_i^T} with dense products, and add the rows back (the baseline the
     * grouped version replaces; differentiable as well).
     *
     * @return delta [T, out]
     */
    public static Tensor deltaLoop(Tensor x, int[] ids, List<Tensor> a, List<Tensor> b, double[] scaling) {
        check(x, ids, a, b, scaling);
        int n = a.size(), T = x.size(0), out = b.get(0).size(0);
        int[] counts = new int[n];
        for (int t = 0; t < T; t++) {
            if (ids[t] < -1 || ids[t] >= n) throw new IndexOutOfBoundsException("adapter id " + ids[t] + " of token " + t + " is outside [-1, " + n + ")");
            if (ids[t] >= 0) counts[ids[t]]++;
        }
        Tensor y = DeviceOps.zeros(x.dtype(), x.device(), T, out);
        for (int i = 0; i < n; i++) {
            if (counts[i] == 0) continue;
            long[] rows = new long[counts[i]];
            for (int t = 0, j = 0; t < T; t++) if (ids[t] == i) rows[j++] = t;
            Tensor idx = Tensor.of(rows, rows.length).to(x.device());
            Tensor xi = F.indexSelect(x, 0, idx);
            Tensor yi = F.mul(F.linear(F.linear(xi, a.get(i), null), b.get(i), null), scaling[i]);
            y = F.indexAdd(y, 0, idx, yi);
        }
        return y;
    }
}
