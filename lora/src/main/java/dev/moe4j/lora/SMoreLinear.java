package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Activation;
import dev.moe4j.autograd.nn.Init;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * S'MoRE (Zeng et al. 2025, "S'MoRE: Structural Mixture of Residual Experts for LLM Fine-tuning"):
 * low-rank residual experts arranged in L levels; each token is routed through a tree of them, and
 * each level's chosen experts pass their outputs up to the expert that chose them.
 *
 * <h2>Structure</h2>
 * Level l (0 = bottom, L-1 = top) holds s_l low-rank residual experts of rank r_l and output width
 * d_l = s_0 r_0 + ... + s_l r_l (the widths of the reference implementation):
 * <pre>
 *   A_l [s_l, r_l, in],  B_l [s_l, d_l, r_l]         expert j of level l: x -&gt; B_lj A_lj x   (d_l)
 *   W_l [d_l, d_{l-1}]   (l &gt;= 1)                    carries a child's output up one level
 *   W_out [out, d_{L-1}]                             final projection (zero at start: the layer starts as W)
 * </pre>
 * <h2>Routing (top-down)</h2>
 * <pre>
 *   c      = x W_c^T + b_c                          [T, G]   {@code gate_proj}, the gates' view of x
 *   level L-1: the root picks f_{L-1} experts by top-f of gate_{L-1}(c)
 *   level l &lt; L-1: each chosen expert j of level l+1 picks f_l children by top-f of
 *          gate_l([c, key(ancestors of the child slot)])   keys_{l+1} [s_{l+1}, K] of the chosen parents
 *   scores = softmax over each node's f chosen logits
 * </pre>
 * A token thus uses a tree of f_{L-1} f_{L-2} ... f_0 leaves; the number of distinct trees, the
 * structural flexibility the paper counts, grows exponentially in L while the parameters grow
 * linearly.
 * <h2>Composition (bottom-up, residual)</h2>
 * <pre>
 *   level 0 node v:   u(v) = score(v) * act(B_0v A_0v x)
 *   level l node v:   u(v) = score(v) * act(B_lv A_lv x + W_l sum over children c of v of u(c))
 *   delta             = W_out sum over the top-level nodes v of u(v)
 *   y                 = x W^T + b + delta
 * </pre>
 * act is identity by default (or a given {@link Activation}). With L = 1 the layer is a top-f
 * mixture of low-rank experts followed by W_out. All steps are autograd ops (every expert of a level
 * is evaluated densely, then the chosen ones gathered), so this small version suits small s_l.
 */
public final class SMoreLinear extends Module {

    /**
     * The tree's shape.
     *
     * @param experts s_l per level (bottom first), each &gt;= 1
     * @param ranks   r_l per level, each &gt;= 1
     * @param fanouts f_l per level, 1 &lt;= f_l &lt;= s_l
     * @param gateDim G, width of the gates' projection of x
     * @param keyDim  K, width of an expert's key seen by its children's gate
     */
    public record Structure(int[] experts, int[] ranks, int[] fanouts, int gateDim, int keyDim) {
        /**
         * @throws IllegalArgumentException for no levels, arrays of different lengths, or a value out of range
         */
        public Structure {
            if (experts == null || ranks == null || fanouts == null || experts.length == 0) throw new IllegalArgumentException("S'MoRE needs at least one level");
            if (ranks.length != experts.length || fanouts.length != experts.length) {
                throw new IllegalArgumentException("S'MoRE levels disagree: " + experts.length + " expert counts, " + ranks.length + " ranks, " + fanouts.length + " fanouts");
            }
            for (int l = 0; l < experts.length; l++) {
                if (experts[l] < 1 || ranks[l] < 1 || fanouts[l] < 1 || fanouts[l] > experts[l]) {
                    throw new IllegalArgumentException("S'MoRE level " + l + ": need s >= 1, r >= 1, 1 <= f <= s, got s = " + experts[l] + ", r = " + ranks[l] + ", f = " + fanouts[l]);
                }
            }
            if (gateDim < 1 || keyDim < 1) throw new IllegalArgumentException("S'MoRE gate and key widths must be >= 1, got " + gateDim + ", " + keyDim);
            experts = experts.clone();
            ranks = ranks.clone();
            fanouts = fanouts.clone();
        }

        /** L. */
        public int levels() { return experts.length; }

        /** d_l = s_0 r_0 + ... + s_l r_l. */
        public int width(int l) {
            int d = 0;
            for (int m = 0; m <= l; m++) d += experts[m] * ranks[m];
            return d;
        }

        @Override
        public String toString() {
            return "Structure(s=" + Arrays.toString(experts) + ", r=" + Arrays.toString(ranks) + ", f=" + Arrays.toString(fanouts) + ", G=" + gateDim + ", K=" + keyDim + ")";
        }
    }

    private final Linear base;
    private final Structure structure;
    private final Activation activation;
    private final int in, out, levels;
    private final int[] d;
    private final Linear gateProj;
    private final Linear[] gates;
    private final Tensor[] a, b, w, keys;
    private final Tensor wOut;
    private Tensor[] lastIds, lastScores;     // per level, [T, P_l] (I64 ids, scores), on the input's device; read on request

    /**
     * @param base       the layer to adapt (frozen; this layer becomes its forward override)
     * @param structure  the tree's shape
     * @param activation act, or null for identity
     * @param gen        source of initial values
     * @throws IllegalArgumentException for a null argument or a base that is already wrapped
     */
    public SMoreLinear(Linear base, Structure structure, Activation activation, Generator gen) {
        if (base == null || structure == null || gen == null) throw new IllegalArgumentException("base, structure and generator must not be null");
        if (base.forwardOverride() != null) throw new IllegalArgumentException("this Linear already has a forward override (it is wrapped by another adapter layer)");
        this.base = base;
        this.structure = structure;
        this.activation = activation;
        this.in = base.weight().size(1);
        this.out = base.weight().size(0);
        this.levels = structure.levels();
        DType dt = base.weight().dtype();
        this.d = new int[levels];
        for (int l = 0; l < levels; l++) d[l] = structure.width(l);
        registerModule("base_layer", base);
        this.gateProj = registerModule("gate_proj", new Linear(in, structure.gateDim(), true, dt, gen));
        this.gates = new Linear[levels];
        this.a = new Tensor[levels];
        this.b = new Tensor[levels];
        this.w = new Tensor[levels];
        this.keys = new Tensor[levels];
        for (int l = 0; l < levels; l++) {
            int s = structure.experts()[l], r = structure.ranks()[l];
            a[l] = registerParameter("lora_A_" + l, Init.uniform(gen, dt, 1 / Math.sqrt(in), s, r, in));
            b[l] = registerParameter("lora_B_" + l, Init.uniform(gen, dt, 1 / Math.sqrt(r), s, d[l], r));
            if (l > 0) {
                w[l] = registerParameter("W_" + l, Init.uniform(gen, dt, 1 / Math.sqrt(d[l - 1]), d[l], d[l - 1]));
                keys[l] = registerParameter("keys_" + l, Init.normal(gen, dt, 1.0, s, structure.keyDim()));
            }
            int gateIn = structure.gateDim() + structure.keyDim() * (levels - 1 - l);
            gates[l] = registerModule("gate_" + l, new Linear(gateIn, s, false, dt, gen));
        }
        this.wOut = registerParameter("W_out", Tensor.zeros(dt, out, d[levels - 1]));
        base.weight().setRequiresGrad(false);
        if (base.bias() != null) base.bias().setRequiresGrad(false);
        base.setForwardOverride(this::forward);
    }

    /** The frozen layer. */
    public Linear baseLayer() { return base; }

    /** The tree's shape. */
    public Structure structure() { return structure; }

    /** d_l. */
    public int width(int level) { return d[level]; }

    /** A_l [s_l, r_l, in]. */
    public Tensor a(int level) { return a[level]; }

    /** B_l [s_l, d_l, r_l]. */
    public Tensor b(int level) { return b[level]; }

    /** W_l [d_l, d_{l-1}] (null for level 0). */
    public Tensor w(int level) { return w[level]; }

    /** keys_l [s_l, K] (null for level 0). */
    public Tensor keys(int level) { return keys[level]; }

    /** gate_l: [G + K (L-1-l)] &rarr; s_l. */
    public Linear gate(int level) { return gates[level]; }

    /** The gates' projection of x [G, in] with bias. */
    public Linear gateProjection() { return gateProj; }

    /** W_out [out, d_{L-1}]. */
    public Tensor wOut() { return wOut; }

    /** P_l, the nodes per token at level l: f_l f_{l+1} ... f_{L-1}. */
    public int nodes(int level) {
        int p = 1;
        for (int m = levels - 1; m >= level; m--) p *= structure.fanouts()[m];
        return p;
    }

    /** Expert ids [T * P_l] of level l in the last forward, node p of token t at t P_l + p (children of node q at level l+1 are q f_l .. q f_l + f_l - 1); a copy, or null. */
    public int[] lastIds(int level) {
        if (lastIds == null) return null;
        long[] v = lastIds[level].toLongArray();
        int[] ids = new int[v.length];
        for (int q = 0; q < v.length; q++) ids[q] = (int) v[q];
        return ids;
    }

    /** Scores [T * P_l] of level l in the last forward, laid out as {@link #lastIds}; a copy, or null. */
    public double[] lastScores(int level) { return lastScores == null ? null : lastScores[level].toDoubleArray(); }

    /** {@code x W^T + b + delta(x)}: x [..., in] &rarr; [..., out]. */
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 1 || x.size(-1) != in) throw new IllegalArgumentException("S'MoRE: input " + Shape.str(x.shape()) + " does not end in in_features " + in);
        if (x.dtype() != base.weight().dtype()) throw new IllegalArgumentException("S'MoRE: input dtype " + x.dtype() + " differs from the weight dtype " + base.weight().dtype());
        DeviceChecks.require("S'MoRE", x, base.weight());
        int tokens = x.numel() / in;
        Tensor y = base.forwardBase(x);
        return F.add(y, F.reshape(delta(F.reshape(x, tokens, in)), y.shape()));
    }

    /** Every expert of level l on every token: [T, s_l, d_l]. */
    private Tensor expertOutputs(int l, Tensor x) {
        int T = x.size(0), s = structure.experts()[l], r = structure.ranks()[l];
        Tensor h = F.permute(F.reshape(F.linear(x, F.reshape(a[l], s * r, in), null), T, s, r), 1, 0, 2);   // [s, T, r]
        return F.permute(F.matmul(h, F.mT(b[l])), 1, 0, 2);                                                  // [T, s, d_l]
    }

    /**
     * The tree's update for token rows x [T, in]: [T, out]. Every step is a tensor op on x's device
     * (the chosen ids stay there as index tensors), so nothing comes to the host.
     */
    Tensor delta(Tensor x) {
        int T = x.size(0);
        int[] f = structure.fanouts();
        lastIds = new Tensor[levels];
        lastScores = new Tensor[levels];
        if (T == 0) {
            for (int l = 0; l < levels; l++) {
                lastIds[l] = Tensor.zeros(DType.I64, 0);
                lastScores[l] = Tensor.zeros(DType.F64, 0);
            }
            return Tensor.zeros(x.dtype(), x.device(), 0, out);
        }
        int[] p = new int[levels + 1];
        p[levels] = 1;
        for (int l = levels - 1; l >= 0; l--) p[l] = p[l + 1] * f[l];
        Tensor ctx = F.reshape(gateProj.forward(x), T, 1, structure.gateDim());
        Tensor[] scores = new Tensor[levels];
        Tensor[] ids = new Tensor[levels];                                             // [T, P_l] I64
        for (int l = levels - 1; l >= 0; l--) {
            TopK top = F.topk(gates[l].forward(ctx), f[l], -1, true);                 // [T, P_{l+1}, f_l]
            scores[l] = F.reshape(F.softmax(top.values(), -1), T, p[l]);
            ids[l] = top.indices().reshape(T, p[l]);
            lastScores[l] = scores[l].detach();
            lastIds[l] = ids[l];
            if (l > 0) {
                Tensor k = F.embedding(ids[l], keys[l]);                               // [T, P_l, K]
                int g = ctx.size(2);
                Tensor rep = F.reshape(F.expand(F.unsqueeze(ctx, 2), T, p[l + 1], f[l], g), T, p[l], g);
                ctx = F.cat(List.of(rep, k), 2);
            }
        }
        Tensor children = null;                                                        // [T, P_l, d_{l-1}]
        for (int l = 0; l < levels; l++) {
            Tensor gi = ids[l].unsqueeze(2).expand(T, p[l], d[l]).contiguous();         // [T, P_l, d_l]: the node's expert
            Tensor z = F.gather(expertOutputs(l, x), 1, gi);                            // [T, P_l, d_l]
            if (l > 0) z = F.add(z, F.linear(children, w[l], null));
            Tensor u = F.mul(activation == null ? z : activation.forward(z), F.unsqueeze(scores[l], 2));
            children = F.sum(F.reshape(u, T, p[l + 1], f[l], d[l]), 2, false);         // [T, P_{l+1}, d_l]
        }
        return F.linear(F.reshape(children, T, d[levels - 1]), wOut, null);
    }

    /** Removes the forward override from the base layer. */
    public void unwrap() {
        if (base.forwardOverride() != null) base.setForwardOverride(null);
    }

    /** The trainable (requiresGrad) parameters by name. */
    public Map<String, Tensor> trainableParameters() {
        Map<String, Tensor> o = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : namedParameters().entrySet()) if (e.getValue().requiresGrad()) o.put(e.getKey(), e.getValue());
        return o;
    }

    @Override
    protected String describe() { return "in=" + in + ", out=" + out + ", " + structure + (activation != null ? ", " + activation : ""); }
}
