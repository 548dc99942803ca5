package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Init;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.ops.ExpertActivationFunction;
import dev.moe4j.moe.ops.GroupedLinear;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LoRA on the fused expert weights of an MoE layer (PERFT, Liu et al. 2024; MixLoRA's experts): each
 * expert e gets its own low-rank update of its up (or gate-up) and down projections, computed with
 * grouped GEMMs over the same routing plan as the experts.
 *
 * <h2>Shapes</h2>
 * <pre>
 *   W_up   [E, U, d]   fused gate_up_proj (U = 2f) or up_proj (U = f), frozen
 *   W_down [E, d, f]   down_proj, frozen
 *   gate_up_proj.lora_A [E, r, d]    gate_up_proj.lora_B [E, U, r]
 *   down_proj.lora_A    [E, r, f]    down_proj.lora_B    [E, d, r]
 * </pre>
 * <h2>On the expert-sorted rows</h2>
 * For the rows of expert e (offsets[e] .. offsets[e+1]-1 of xPerm [R, d]):
 * <pre>
 *   h = x W_up,e^T   + s (x' A_up,e^T) B_up,e^T        three grouped GEMMs (base, shrink, expand)
 *   a = act(h)  (gated: act(h[:, :f]) * h[:, f:])
 *   y = a W_down,e^T + s (a' A_down,e^T) B_down,e^T
 * </pre>
 * x', a' are the LoRA branches' inputs after adapter dropout (in training). The scaling s is
 * alpha / r (alpha / sqrt(r) with rsLoRA); A starts Kaiming-uniform per expert and B at zero, so the
 * layer starts equal to the frozen experts. {@link #merge} folds {@code s B_e A_e} into each
 * expert's weights (a batched product [E, U, r] x [E, r, d]) and {@link #unmerge} takes it out.
 *
 * <p>{@link #attach} installs this as the forward override of a {@link MoeLayer}'s experts (the layer
 * keeps routing, permuting and combining as before) and freezes the whole layer, router included:
 * only the expert adapters train.
 */
public final class ExpertLora extends Module {
    private final GroupedExperts experts;
    private final AdapterSpec spec;
    private final Pair up, down;
    private final Generator generator;
    private boolean merged, enabled = true;

    /** The A [E, r, in] and B [E, out, r] of one fused projection, as parameters {@code lora_A}, {@code lora_B}. */
    public static final class Pair extends Module {
        private final Tensor a, b;

        Pair(int e, int in, int out, AdapterSpec spec, DType dtype, Generator gen) {
            int r = spec.r();
            Tensor a0 = spec.init() == LoraInit.GAUSSIAN ? Init.normal(gen, dtype, 1.0 / r, e, r, in) : Init.uniform(gen, dtype, 1 / Math.sqrt(in), e, r, in);
            Tensor b0 = spec.init() == LoraInit.RANDOM ? Init.uniform(gen, dtype, 1 / Math.sqrt(r), e, out, r) : Tensor.zeros(dtype, e, out, r);
            this.a = registerParameter("lora_A", a0);
            this.b = registerParameter("lora_B", b0);
        }

        /** A [E, r, in]. */
        public Tensor a() { return a; }

        /** B [E, out, r]. */
        public Tensor b() { return b; }

        /** The update of every expert, {@code B_e A_e} [E, out, in] (no scaling, no graph). */
        Tensor product() {
            try (NoGrad s = NoGrad.enter()) {
                return b.detach().matmul(a.detach());
            }
        }

        /** Per expert on the padded layout x [E, C, in]: {@code x_e A_e^T B_e^T} [E, C, out]. */
        @Override
        public Tensor forward(Tensor x) { return F.matmul(F.matmul(x, F.mT(a)), F.mT(b)); }
    }

    /**
     * Adapters on {@code experts}' projections (installed as their forward override).
     *
     * @param experts  the fused experts
     * @param spec     rank, alpha, rsLoRA, dropout, initialisation (DoRA is not supported)
     * @param onUp     adapt the up (gate-up) projection
     * @param onDown   adapt the down projection
     * @param gen      source of the initial values and dropout masks
     * @throws IllegalArgumentException when neither projection is chosen, for DoRA, for a rank above
     *         min(in, out) of a chosen projection, or for experts that already have an override
     */
    public ExpertLora(GroupedExperts experts, AdapterSpec spec, boolean onUp, boolean onDown, Generator gen) {
        if (experts == null || spec == null || gen == null) throw new IllegalArgumentException("experts, spec and generator must not be null");
        if (!onUp && !onDown) throw new IllegalArgumentException("choose at least one of the up and down projections");
        if (spec.useDora()) throw new IllegalArgumentException("LoRA on expert weights does not support DoRA");
        int e = experts.numExperts(), d = experts.hiddenSize(), f = experts.intermediateSize();
        int u = experts.upProjection().size(1);
        if (onUp && spec.r() > Math.min(d, u)) throw new IllegalArgumentException("LoRA rank r = " + spec.r() + " exceeds min(d, U) = min(" + d + ", " + u + ") of the up projection");
        if (onDown && spec.r() > Math.min(d, f)) throw new IllegalArgumentException("LoRA rank r = " + spec.r() + " exceeds min(d, f) = min(" + d + ", " + f + ") of the down projection");
        if (experts.forwardOverride() != null) throw new IllegalArgumentException("these experts already have a forward override");
        this.experts = experts;
        this.spec = spec;
        this.generator = gen;
        DType dtype = experts.upProjection().dtype();
        String upName = experts.gated() ? "gate_up_proj" : "up_proj";
        this.up = onUp ? registerModule(upName, new Pair(e, d, u, spec, dtype, gen)) : null;
        this.down = onDown ? registerModule("down_proj", new Pair(e, f, d, spec, dtype, gen)) : null;
        experts.upProjection().setRequiresGrad(false);
        experts.downProjection().setRequiresGrad(false);
        experts.setForwardOverride(this::forward);
    }

    /**
     * Adapters on both projections of {@code layer}'s experts; freezes every parameter of the layer.
     *
     * @throws IllegalArgumentException as the constructor; the layer is unchanged then
     */
    public static ExpertLora attach(MoeLayer layer, AdapterSpec spec, Generator gen) {
        ExpertLora l = new ExpertLora(layer.experts(), spec, true, true, gen);
        for (Tensor t : layer.parameters()) t.setRequiresGrad(false);
        return l;
    }

    /** The adapted experts. */
    public GroupedExperts experts() { return experts; }

    /** The settings. */
    public AdapterSpec spec() { return spec; }

    /** The up (gate-up) projection's adapter, or null. */
    public Pair up() { return up; }

    /** The down projection's adapter, or null. */
    public Pair down() { return down; }

    /** Turns the adapters on or off (off: the plain experts; merged adapters are unmerged first). */
    public void setEnabled(boolean on) {
        if (!on && merged) unmerge();
        enabled = on;
    }

    /**
     * The adapted experts on expert-sorted rows.
     *
     * @param xPerm   [R, d]
     * @param offsets [E + 1]
     * @return yPerm [R, d]
     */
    public Tensor forward(Tensor xPerm, int[] offsets) {
        if (!enabled || merged) return experts.forwardBase(xPerm, offsets);
        Tensor h = project(xPerm, offsets, experts.upProjection(), up);
        Tensor a = new ExpertActivationFunction(experts.activation(), experts.gated()).apply(h);
        return project(a, offsets, experts.downProjection(), down);
    }

    private Tensor project(Tensor x, int[] offsets, Tensor w, Pair p) {
        Tensor y = new GroupedLinear(offsets).apply(x, w);
        if (p == null) return y;
        Tensor xd = F.dropout(x, spec.dropout(), experts.isTraining(), generator);
        Tensor lora = new GroupedLinear(offsets).apply(new GroupedLinear(offsets).apply(xd, p.a()), p.b());
        return F.add(y, F.mul(lora, spec.scaling()));
    }

    /** The capacity-padded layout x [E, C, d] &rarr; [E, C, d], as {@link GroupedExperts#forward(Tensor)}. */
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() != 3 || x.size(0) != experts.numExperts() || x.size(2) != experts.hiddenSize()) {
            throw new IllegalArgumentException("expert LoRA: padded input must be [E, C, d], got " + Shape.str(x.shape()));
        }
        int e = x.size(0), c = x.size(1), d = x.size(2);
        int[] offsets = new int[e + 1];
        for (int i = 0; i <= e; i++) offsets[i] = i * c;
        return F.reshape(forward(F.reshape(x, e * c, d), offsets), e, c, d);
    }

    /** Folds {@code s B_e A_e} into every adapted expert weight (no effect when already merged). */
    public void merge() {
        if (merged) return;
        try (NoGrad s = NoGrad.enter()) {
            if (up != null) experts.upProjection().addInPlace(up.product(), spec.scaling());
            if (down != null) experts.downProjection().addInPlace(down.product(), spec.scaling());
        }
        merged = true;
    }

    /** Takes the merged updates out again (W restored up to rounding). */
    public void unmerge() {
        if (!merged) return;
        try (NoGrad s = NoGrad.enter()) {
            if (up != null) experts.upProjection().addInPlace(up.product(), -spec.scaling());
            if (down != null) experts.downProjection().addInPlace(down.product(), -spec.scaling());
        }
        merged = false;
    }

    /** Whether the updates are merged into the expert weights. */
    public boolean isMerged() { return merged; }

    /** Removes the override from the experts (unmerging first). */
    public void unwrap() {
        unmerge();
        if (experts.forwardOverride() != null) experts.setForwardOverride(null);
    }

    /** The trainable parameters by name. */
    public Map<String, Tensor> trainableParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Map<Tensor, Boolean> seen = new IdentityHashMap<>();
        for (Map.Entry<String, Tensor> en : namedParameters().entrySet()) {
            if (en.getValue().requiresGrad() && seen.put(en.getValue(), Boolean.TRUE) == null) out.put(en.getKey(), en.getValue());
        }
        return out;
    }

    @Override
    protected String describe() {
        return "E=" + experts.numExperts() + ", r=" + spec.r() + ", scaling=" + spec.scaling() + (merged ? ", merged" : "") + (enabled ? "" : ", disabled");
    }
}
