package dev.moe4j.lora.merge;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Merging several low-rank updates of one layer into one: n updates {@code tau_t = s_t B_t A_t}
 * [out, in], weights {@code c_t}. Nothing here records a graph.
 *
 * <ul>
 *   <li>{@link #linear}: weight averaging of the deltas, {@code sum_t c_t tau_t} [out, in] (task
 *       arithmetic; with c = 1/n, the average). Exact, dense.</li>
 *   <li>{@link #concatenate}: the same sum as one LoRA adapter of rank {@code sum_t r_t}:
 *       {@code A = [A_1; ...; A_n]}, {@code B = [c_1 s_1 B_1, ..., c_n s_n B_n]}, s = 1 (PEFT's
 *       {@code add_weighted_adapter(combination_type="cat")}). Exact, low-rank.</li>
 *   <li>{@link #averageFactors}: {@code (sum_t c_t A_t, sum_t c_t B_t)} with the common scaling, one
 *       rank-r adapter; needs equal ranks and scalings. Equal to the linear merge only when the
 *       updates agree.</li>
 *   <li>{@link #ties}: TIES-Merging (Yadav et al. 2023, "TIES-Merging: Resolving Interference When
 *       Merging Models") on the dense deltas, the sign-consensus merge that MergeME ("MergeME: Model
 *       Merging Techniques for Homogeneous and Heterogeneous MoEs", 2025) applies to the parameters
 *       the dense experts share. Three steps per element p:
 *       <pre>
 *   trim:   keep the k = floor(density * out * in) entries of largest |tau_t| in each tau_t, zero the rest
 *   elect:  gamma_p = sign(sum_t tau^_t[p])                     the sign with the larger total mass
 *   merge:  tau_m[p] = mean of tau^_t[p] over the t with sign(tau^_t[p]) = gamma_p   (0 when none)
 *   result: lambda * tau_m
 *       </pre>
 *       Ties in magnitude keep the lower flat index. The result is dense [out, in].</li>
 * </ul>
 * {@link #foldInto} adds a dense delta to a layer's weight.
 *
 * <h2>Devices</h2>
 * The updates of one merge live on one device (the CPU or a CUDA device), and the results are made
 * there: the linear, concatenation and factor merges are tensor ops on that device. TIES's trim
 * (a sort of every entry by magnitude, ties to the lower index) runs on the host: the deltas are
 * downloaded, merged as on the CPU and the result is uploaded to their device, so both devices give
 * the same merge.
 */
public final class LoraMerge {
    private LoraMerge() {}

    private static void checkSameLayer(List<LowRankUpdate> updates, double[] weights) {
        if (updates == null || updates.isEmpty()) throw new IllegalArgumentException("merging needs at least one update");
        if (weights != null && weights.length != updates.size()) {
            throw new IllegalArgumentException(weights.length + " merge weights for " + updates.size() + " updates");
        }
        LowRankUpdate first = updates.get(0);
        for (LowRankUpdate u : updates) {
            if (u.inFeatures() != first.inFeatures() || u.outFeatures() != first.outFeatures() || u.a().dtype() != first.a().dtype()) {
                throw new IllegalArgumentException("updates of different layers: [" + first.outFeatures() + ", " + first.inFeatures() + "] "
                        + first.a().dtype() + " and [" + u.outFeatures() + ", " + u.inFeatures() + "] " + u.a().dtype());
            }
            if (!u.device().equals(first.device())) {
                throw new IllegalArgumentException("updates on different devices: " + first.device() + " and " + u.device() + " (move them to one device first)");
            }
        }
        if (weights != null) for (double w : weights) if (!Double.isFinite(w)) throw new IllegalArgumentException("merge weights must be finite, got " + Arrays.toString(weights));
    }

    private static double[] uniform(int n) {
        double[] w = new double[n];
        Arrays.fill(w, 1.0 / n);
        return w;
    }

    /** The average {@code (1/n) sum_t tau_t} [out, in]. */
    public static Tensor linear(List<LowRankUpdate> updates) { return linear(updates, null); }

    /**
     * {@code sum_t c_t s_t B_t A_t} [out, in].
     *
     * @param weights c [n], or null for 1/n each
     * @throws IllegalArgumentException for no updates, updates of different shapes, dtypes or devices, or a wrong number of weights
     */
    public static Tensor linear(List<LowRankUpdate> updates, double[] weights) {
        checkSameLayer(updates, weights);
        double[] c = weights == null ? uniform(updates.size()) : weights;
        Tensor sum = null;
        for (int t = 0; t < updates.size(); t++) {
            Tensor d = updates.get(t).delta().mul(c[t]);
            sum = sum == null ? d : sum.add(d);
        }
        return sum;
    }

    /**
     * The linear merge as one adapter of rank {@code sum_t r_t}, scaling 1.
     *
     * @param weights c [n], or null for 1/n each
     * @throws IllegalArgumentException as {@link #linear(List, double[])}
     */
    public static LowRankUpdate concatenate(List<LowRankUpdate> updates, double[] weights) {
        checkSameLayer(updates, weights);
        double[] c = weights == null ? uniform(updates.size()) : weights;
        int in = updates.get(0).inFeatures(), out = updates.get(0).outFeatures(), r = 0;
        for (LowRankUpdate u : updates) r += u.rank();
        DType dtype = updates.get(0).a().dtype();
        Device device = updates.get(0).device();
        Tensor a = Tensor.zeros(dtype, device, r, in), b = Tensor.zeros(dtype, device, out, r);
        try (NoGrad scope = NoGrad.enter()) {
            int at = 0;
            for (int t = 0; t < updates.size(); t++) {
                LowRankUpdate u = updates.get(t);
                a.narrow(0, at, u.rank()).copyFrom(u.a());
                b.narrow(1, at, u.rank()).copyFrom(u.b().mul(c[t] * u.scaling()));
                at += u.rank();
            }
        }
        return new LowRankUpdate(a, b, 1.0);
    }

    /**
     * The factor average {@code (sum_t c_t A_t, sum_t c_t B_t)}, scaling s.
     *
     * @param weights c [n], or null for 1/n each
     * @throws IllegalArgumentException as {@link #linear(List, double[])}, or for different ranks or scalings
     */
    public static LowRankUpdate averageFactors(List<LowRankUpdate> updates, double[] weights) {
        checkSameLayer(updates, weights);
        double[] c = weights == null ? uniform(updates.size()) : weights;
        LowRankUpdate first = updates.get(0);
        for (LowRankUpdate u : updates) {
            if (u.rank() != first.rank() || u.scaling() != first.scaling()) {
                throw new IllegalArgumentException("factor averaging needs equal ranks and scalings, got r = " + first.rank() + ", s = " + first.scaling()
                        + " and r = " + u.rank() + ", s = " + u.scaling());
            }
        }
        Tensor a = null, b = null;
        try (NoGrad scope = NoGrad.enter()) {
            for (int t = 0; t < updates.size(); t++) {
                Tensor at = updates.get(t).a().mul(c[t]), bt = updates.get(t).b().mul(c[t]);
                a = a == null ? at : a.add(at);
                b = b == null ? bt : b.add(bt);
            }
        }
        return new LowRankUpdate(a, b, first.scaling());
    }

    /** TIES on the updates' dense deltas; see {@link #ties(List, double, double)}. */
    public static Tensor tiesUpdates(List<LowRankUpdate> updates, double density, double lambda) {
        checkSameLayer(updates, null);
        List<Tensor> deltas = new ArrayList<>();
        for (LowRankUpdate u : updates) deltas.add(u.delta());
        return ties(deltas, density, lambda);
    }

    /**
     * TIES-Merging of dense task vectors (trim, elect sign, disjoint mean, scale by lambda).
     *
     * @param deltas  n task vectors of one shape
     * @param density fraction of entries each keeps, in (0, 1]
     * @param lambda  scale of the merged vector
     * @return the merged vector, shape, dtype and device of the first (computed on the host)
     * @throws IllegalArgumentException for no deltas, different shapes, dtypes or devices, density outside (0, 1] or a non-finite lambda
     */
    public static Tensor ties(List<Tensor> deltas, double density, double lambda) {
        if (deltas == null || deltas.isEmpty()) throw new IllegalArgumentException("TIES needs at least one task vector");
        if (!(density > 0 && density <= 1)) throw new IllegalArgumentException("TIES density must lie in (0, 1], got " + density);
        if (!Double.isFinite(lambda)) throw new IllegalArgumentException("TIES lambda must be finite, got " + lambda);
        int[] shape = deltas.get(0).shape();
        Device device = deltas.get(0).device();
        for (Tensor d : deltas) {
            if (!Arrays.equals(d.shape(), shape)) throw new IllegalArgumentException("TIES task vectors differ in shape: " + Shape.str(shape) + " and " + Shape.str(d.shape()));
            if (!d.device().equals(device)) throw new IllegalArgumentException("TIES task vectors on different devices: " + device + " and " + d.device());
            if (d.dtype() != deltas.get(0).dtype()) throw new IllegalArgumentException("TIES task vectors differ in dtype: " + deltas.get(0).dtype() + " and " + d.dtype());
        }
        int n = deltas.size(), len = deltas.get(0).numel();
        int keep = (int) Math.floor(density * len);
        double[][] trimmed = new double[n][];
        for (int t = 0; t < n; t++) trimmed[t] = trim(deltas.get(t).toDoubleArray(), keep);
        double[] merged = new double[len];
        for (int p = 0; p < len; p++) {
            double mass = 0;
            for (int t = 0; t < n; t++) mass += trimmed[t][p];
            double gamma = Math.signum(mass);
            if (gamma == 0) continue;
            double sum = 0;
            int count = 0;
            for (int t = 0; t < n; t++) {
                if (Math.signum(trimmed[t][p]) == gamma) {
                    sum += trimmed[t][p];
                    count++;
                }
            }
            merged[p] = count == 0 ? 0 : lambda * sum / count;
        }
        return Tensor.of(merged, shape).to(deltas.get(0).dtype()).to(device);
    }

    /** Keeps the {@code keep} entries of largest magnitude (ties: lower index), zeroes the others. */
    static double[] trim(double[] v, int keep) {
        if (keep >= v.length) return v.clone();
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < v.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> {
            int c = Double.compare(Math.abs(v[b]), Math.abs(v[a]));
            return c != 0 ? c : Integer.compare(a, b);
        });
        double[] out = new double[v.length];
        for (int j = 0; j < keep; j++) out[order[j]] = v[order[j]];
        return out;
    }

    /**
     * {@code W += delta} on a layer's weight, in place, outside the graph (delta is moved to the
     * weight's device and cast to its dtype).
     *
     * @throws IllegalArgumentException when delta is not [out, in] of the layer
     */
    public static void foldInto(Linear layer, Tensor delta) {
        if (!Arrays.equals(delta.shape(), layer.weight().shape())) {
            throw new IllegalArgumentException("delta " + Shape.str(delta.shape()) + " does not fit the weight " + Shape.str(layer.weight().shape()));
        }
        try (NoGrad scope = NoGrad.enter()) {
            layer.weight().copyFrom(layer.weight().detach().add(delta.to(layer.weight().device()).to(layer.weight().dtype())));
        }
    }
}
