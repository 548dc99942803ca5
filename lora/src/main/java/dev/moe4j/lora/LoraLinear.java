package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Init;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Low-rank adapters on a frozen linear layer, computed as PEFT's {@code lora.Linear} computes them.
 *
 * <h2>LoRA and rsLoRA</h2>
 * For the base layer {@code y = x W^T + b} (x [..., in], W [out, in]) and each active adapter with
 * A [r, in], B [out, r] and scaling s:
 * <pre>
 *   y = x W^T + b + sum over active adapters of  ((dropout(x) A^T) B^T) * s
 *   s = alpha / r  (LoRA, Hu et al. 2021)    or    alpha / sqrt(r)  (rsLoRA, Kalajdzievski 2023)
 * </pre>
 *
 * <h2>DoRA</h2>
 * (Liu et al. 2024) splits the adapted weight into a magnitude m [out] and a direction:
 * {@code W' = m * (W + s B A) / ||W + s B A||_row}, the norm taken per output row. As PEFT (and
 * section 4.3 of the paper) the norm n is treated as a constant: it is computed without gradient, so
 * A and B get no gradient through it. PEFT adds the DoRA term to the running output {@code y} (base
 * output plus the adapters before this one):
 * <pre>
 *   c      = m / n                                     [out]
 *   base   = y - b                   (no dropout, or evaluation mode)
 *          = dropout(x) W^T          (dropout in training: x is dropped first)
 *   y     += (c - 1) * base + c * ((x' A^T) B^T) * s   x' = dropout(x)
 * </pre>
 * With one adapter and no dropout this is {@code y = c * (x W^T + s x A^T B^T) + b = x W'^T + b}.
 *
 * <h2>Merging</h2>
 * {@link #merge} folds adapters into W in place (LoRA: {@code W += s B A}; DoRA:
 * {@code W = (m / n) * (W + s B A)} with n the row norms of {@code W + s B A}, kept for unmerging)
 * and {@link #unmerge} undoes the merges in reverse order ({@code W -= s B A};
 * {@code W = W * n / m - s B A}), restoring W up to rounding. Merged adapters add nothing in
 * {@link #forward}, since W already holds them.
 *
 * <h2>Adapters, active set, freezing</h2>
 * Adapters are added by name ({@link #addAdapter}); the first one added is active, later ones when
 * {@link #setActiveAdapters} names them. As in PEFT, activating adapters makes their parameters
 * trainable and the others frozen. {@link #setAdaptersEnabled}(false) gives the base layer alone
 * (unmerging first when something is merged, as PEFT's {@code disable_adapters}). The base layer's
 * weight and bias are frozen (requiresGrad false) when it is wrapped. Dropout follows the training
 * mode of the base layer, which {@code train()} / {@code eval()} reach whether they are called on
 * this layer or on a model that holds the base Linear.
 *
 * <h2>Mixed batches</h2>
 * {@link #setTokenAdapters} gives each token its own adapter (or none), as PEFT's
 * {@code adapter_names} argument: the forward then ignores the active set and adds, per token, the
 * update of that token's adapter, computed for all adapters at once by {@link SegmentedLora} (two
 * grouped GEMMs over the tokens grouped by adapter). DoRA adapters and merged adapters cannot take
 * part in a mixed batch.
 *
 * <p>Parameter names follow PEFT: {@code base_layer.weight}, {@code base_layer.bias},
 * {@code lora_A.<adapter>.weight}, {@code lora_B.<adapter>.weight},
 * {@code lora_magnitude_vector.<adapter>.weight}.
 *
 * <p>Wrapping installs this layer as the base layer's forward override
 * ({@link Linear#setForwardOverride}), so a model that holds the base Linear and calls it runs the
 * adapted layer; {@link #unwrap()} removes it.
 */
public final class LoraLinear extends Module {
    private final Linear base;
    private final int in, out;
    private final ModuleDict loraA, loraB, loraMagnitude;
    private final Map<String, LoraAdapter> adapters = new LinkedHashMap<>();
    private final Map<String, Generator> dropoutGenerators = new LinkedHashMap<>();
    private final List<String> active = new ArrayList<>();
    private final Deque<Merge> merged = new ArrayDeque<>();
    private boolean enabled = true;
    private boolean wrapped;
    private int[] tokenAdapters;

    /** An adapter folded into W: its name and, for DoRA, the row norms used (for unmerging). */
    private record Merge(String name, Tensor doraNorm) {}

    /**
     * Wraps {@code base}: freezes its weight and bias and becomes its forward override.
     *
     * @throws IllegalArgumentException when {@code base} already has a forward override (another
     *         adapter layer wraps it)
     */
    public LoraLinear(Linear base) {
        if (base == null) throw new IllegalArgumentException("base layer is null");
        if (base.forwardOverride() != null) {
            throw new IllegalArgumentException("this Linear already has a forward override (it is wrapped by another adapter layer)");
        }
        this.base = registerModule("base_layer", base);
        this.in = base.weight().size(1);
        this.out = base.weight().size(0);
        this.loraA = registerModule("lora_A", new ModuleDict());
        this.loraB = registerModule("lora_B", new ModuleDict());
        this.loraMagnitude = registerModule("lora_magnitude_vector", new ModuleDict());
        setBaseTrainable(false);
        base.setForwardOverride(this::forward);
        wrapped = true;
    }

    /** Wraps {@code base} and adds one adapter, active. */
    public LoraLinear(Linear base, String adapterName, AdapterSpec spec, Generator gen) {
        this(checked(base, adapterName, spec, gen));
        addAdapter(adapterName, spec, gen);
    }

    /** The checks of {@link #addAdapter} that can run before wrapping, so that a failure leaves {@code base} alone. */
    private static Linear checked(Linear base, String name, AdapterSpec spec, Generator gen) {
        if (base == null) throw new IllegalArgumentException("base layer is null");
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException("adapter name must be non-empty and without dots, got '" + name + "'");
        }
        checkRank(spec, base);
        if (gen == null) throw new IllegalArgumentException("generator is null");
        return base;
    }

    // ------------------------------------------------------------------ adapters

    /**
     * Checks that an adapter with this name and spec can be added, without adding it.
     *
     * @throws IllegalArgumentException for a bad name (empty, with a dot, already used) or a rank
     *         above min(in, out) of the layer
     */
    public void checkAdapter(String name, AdapterSpec spec) {
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException("adapter name must be non-empty and without dots, got '" + name + "'");
        }
        if (adapters.containsKey(name)) throw new IllegalArgumentException("adapter '" + name + "' already exists on this layer");
        checkRank(spec, base);
    }

    /**
     * Checks that {@code spec}'s rank fits a layer: 1 &lt;= r &lt;= min(in, out).
     *
     * @throws IllegalArgumentException naming the rank and the layer's sizes
     */
    static void checkRank(AdapterSpec spec, Linear layer) {
        if (spec == null) throw new IllegalArgumentException("adapter spec is null");
        int o = layer.weight().size(0), i = layer.weight().size(1);
        if (spec.r() > Math.min(i, o)) {
            throw new IllegalArgumentException("LoRA rank r = " + spec.r() + " exceeds min(in, out) = min(" + i + ", " + o
                    + ") of the layer with weight " + Shape.str(layer.weight().shape()));
        }
    }

    /**
     * Adds an adapter, initialised as {@code spec.init()} says, in the dtype of the base weight. The
     * first adapter becomes active; later ones are inactive (and frozen) until activated.
     *
     * @param name name of the adapter ("default" in PEFT)
     * @param spec rank, alpha, dropout, variant
     * @param gen  source of the initial values and of the dropout masks
     * @return the adapter
     * @throws IllegalArgumentException as {@link #checkAdapter}; nothing is changed then
     */
    public LoraAdapter addAdapter(String name, AdapterSpec spec, Generator gen) {
        checkAdapter(name, spec);
        if (gen == null) throw new IllegalArgumentException("generator is null");
        DType dtype = base.weight().dtype();
        int r = spec.r();
        Linear a = new Linear(in, r, false, dtype, gen);          // uniform 1/sqrt(in): kaiming_uniform_(a = sqrt 5)
        Linear b = new Linear(r, out, false, dtype, gen);         // uniform 1/sqrt(r): nn.Linear's default
        try (NoGrad scope = NoGrad.enter()) {
            if (spec.init() == LoraInit.GAUSSIAN) a.weight().copyFrom(Init.normal(gen, dtype, 1.0 / r, r, in));
            if (spec.init() != LoraInit.RANDOM) b.weight().fill(0);
        }
        DoraMagnitude m = null;
        if (spec.useDora()) {
            try (NoGrad scope = NoGrad.enter()) {
                m = new DoraMagnitude(rowNorms(base.weight(), a.weight(), b.weight(), spec.scaling()));
            }
        }
        loraA.put(name, a);
        loraB.put(name, b);
        if (m != null) loraMagnitude.put(name, m);
        LoraAdapter adapter = new LoraAdapter(name, spec, a, b, m);
        adapters.put(name, adapter);
        dropoutGenerators.put(name, gen);
        if (active.isEmpty()) active.add(name);
        adapter.setTrainable(active.contains(name));
        return adapter;
    }

    /** The adapter called {@code name}. @throws IllegalArgumentException when there is none */
    public LoraAdapter adapter(String name) {
        LoraAdapter a = adapters.get(name);
        if (a == null) throw new IllegalArgumentException("no adapter '" + name + "' on this layer; it has " + adapters.keySet());
        return a;
    }

    /** All adapters by name, in the order added (read-only). */
    public Map<String, LoraAdapter> adapters() { return Collections.unmodifiableMap(adapters); }

    /** True when an adapter called {@code name} exists. */
    public boolean hasAdapter(String name) { return adapters.containsKey(name); }

    /**
     * Makes exactly these adapters active, in this order (their parameters trainable, the others'
     * frozen).
     *
     * @throws IllegalArgumentException naming an unknown adapter; nothing changes then
     */
    public void setActiveAdapters(List<String> names) {
        for (String n : names) adapter(n);
        active.clear();
        for (String n : names) if (!active.contains(n)) active.add(n);
        for (LoraAdapter a : adapters.values()) a.setTrainable(active.contains(a.name()));
    }

    /** Varargs form of {@link #setActiveAdapters(List)}. */
    public void setActiveAdapters(String... names) { setActiveAdapters(List.of(names)); }

    /** The active adapters, in order (a copy). */
    public List<String> activeAdapters() { return List.copyOf(active); }

    /**
     * Turns all adapters on or off. Off, the layer computes the base layer alone; adapters merged
     * into W are unmerged first, as PEFT does.
     */
    public void setAdaptersEnabled(boolean on) {
        if (!on && !merged.isEmpty()) unmerge();
        enabled = on;
    }

    /** Whether the adapters are enabled. */
    public boolean adaptersEnabled() { return enabled; }

    /** Freezes (false) or unfreezes (true) the base layer's weight and bias. */
    public void setBaseTrainable(boolean on) {
        base.weight().setRequiresGrad(on);
        if (base.bias() != null) base.bias().setRequiresGrad(on);
    }

    /** The wrapped layer (its weight holds merged adapters while they are merged). */
    public Linear baseLayer() { return base; }

    /** Input size. */
    public int inFeatures() { return in; }

    /** Output size. */
    public int outFeatures() { return out; }

    // ------------------------------------------------------------------ forward

    /**
     * The adapted layer: x [..., in] &rarr; [..., out], as described in the class comment.
     *
     * @throws IllegalArgumentException when x's last dim is not {@code in} or its dtype differs from the weight's
     */
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 1 || x.size(-1) != in) {
            throw new IllegalArgumentException("LoraLinear: input " + Shape.str(x.shape()) + " does not end in in_features " + in);
        }
        if (x.dtype() != base.weight().dtype()) {
            throw new IllegalArgumentException("LoraLinear: input dtype " + x.dtype() + " differs from the weight dtype " + base.weight().dtype());
        }
        if (!enabled) {
            if (!merged.isEmpty()) unmerge();
            return base.forwardBase(x);
        }
        if (tokenAdapters != null) return forwardMixed(x);
        Tensor y = base.forwardBase(x);
        for (String name : active) {
            if (isMerged(name)) continue;
            LoraAdapter a = adapters.get(name);
            y = a.isDora() ? addDora(y, x, a) : addLora(y, x, a);
        }
        return y;
    }

    private Tensor dropout(Tensor x, LoraAdapter a) {
        return F.dropout(x, a.spec().dropout(), training(), dropoutGenerators.get(a.name()));
    }

    /**
     * Training mode as the base layer sees it: a model's {@code train()} / {@code eval()} reaches the
     * base Linear inside it (and this layer's own mode is passed to its base_layer child).
     */
    private boolean training() { return base.isTraining(); }

    /**
     * y + ((dropout(x) A^T) B^T) * s, with s applied to the rank-r intermediate (the same product,
     * one pass over [T, r] instead of [T, out]).
     */
    private Tensor addLora(Tensor y, Tensor x, LoraAdapter a) {
        Tensor h = F.mul(F.linear(dropout(x, a), a.a(), null), a.scaling());
        return F.add(y, F.linear(h, a.b(), null));
    }

    /** y + (c - 1) * base + c * lora * s, with c = m / n and n the detached row norms of W + s B A. */
    private Tensor addDora(Tensor y, Tensor x, LoraAdapter a) {
        Tensor n;
        try (NoGrad scope = NoGrad.enter()) {
            n = rowNorms(base.weight(), a.a().detach(), a.b().detach(), a.scaling());
        }
        Tensor c = F.div(a.magnitude(), n);
        boolean dropping = a.spec().dropout() > 0 && training();
        Tensor xd = x;
        Tensor baseResult;
        if (!dropping) {
            baseResult = base.bias() == null ? y : F.sub(y, base.bias());
        } else {
            xd = dropout(x, a);
            baseResult = F.linear(xd, base.weight(), null);
        }
        Tensor lora = F.linear(F.linear(xd, a.a(), null), a.b(), null);
        Tensor dora = F.add(F.mul(F.sub(c, 1.0), baseResult), F.mul(F.mul(c, lora), a.scaling()));
        return F.add(y, dora);
    }

    // ------------------------------------------------------------------ mixed batches

    /** The adapter names in the order adapters were added; a token's adapter id indexes this list. */
    public List<String> adapterNames() { return List.copyOf(adapters.keySet()); }

    /**
     * Gives each token of the following forwards its adapter by name (null entries: the base layer
     * only), as PEFT's {@code adapter_names}; a null array ends the mixed mode.
     *
     * @param perToken one name per token row of the input (all leading dims of x flattened)
     * @throws IllegalArgumentException naming an unknown, DoRA or merged adapter
     */
    public void setTokenAdapters(String... perToken) {
        if (perToken == null) {
            tokenAdapters = null;
            return;
        }
        List<String> names = adapterNames();
        int[] ids = new int[perToken.length];
        for (int t = 0; t < ids.length; t++) {
            if (perToken[t] == null) { ids[t] = -1; continue; }
            ids[t] = names.indexOf(perToken[t]);
            if (ids[t] < 0) throw new IllegalArgumentException("token " + t + " names adapter '" + perToken[t] + "'; this layer has " + names);
        }
        setTokenAdapterIds(ids);
    }

    /**
     * Like {@link #setTokenAdapters(String...)} with ids into {@link #adapterNames()} (-1: none);
     * null ends the mixed mode.
     *
     * @throws IllegalArgumentException for an id outside [-1, N) or a DoRA or merged adapter
     */
    public void setTokenAdapterIds(int[] ids) {
        if (ids == null) {
            tokenAdapters = null;
            return;
        }
        List<String> names = adapterNames();
        boolean[] used = new boolean[names.size()];
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] < -1 || ids[t] >= names.size()) {
                throw new IllegalArgumentException("adapter id " + ids[t] + " of token " + t + " is outside [-1, " + names.size() + ")");
            }
            if (ids[t] >= 0) used[ids[t]] = true;
        }
        for (int i = 0; i < used.length; i++) {
            if (!used[i]) continue;
            if (adapters.get(names.get(i)).isDora()) throw new IllegalArgumentException("DoRA adapter '" + names.get(i) + "' cannot be used in a mixed batch");
        }
        tokenAdapters = ids.clone();
    }

    /** The per-token adapter ids of the mixed mode (a copy), or null when it is off. */
    public int[] tokenAdapterIds() { return tokenAdapters == null ? null : tokenAdapters.clone(); }

    /** base(x) + the per-token updates, grouped by adapter. */
    private Tensor forwardMixed(Tensor x) {
        int tokens = x.numel() / in;
        if (tokens != tokenAdapters.length) {
            throw new IllegalArgumentException("mixed batch: input " + Shape.str(x.shape()) + " has " + tokens + " tokens, "
                    + tokenAdapters.length + " adapter ids were set");
        }
        if (!merged.isEmpty()) throw new IllegalArgumentException("mixed batch: adapters " + mergedAdapters() + " are merged; unmerge first");
        List<Tensor> as = new ArrayList<>(), bs = new ArrayList<>();
        int n = adapters.size();
        double[] s = new double[n], p = new double[n];
        Generator[] gens = new Generator[n];
        int i = 0;
        for (LoraAdapter a : adapters.values()) {
            as.add(a.a());
            bs.add(a.b());
            s[i] = a.scaling();
            p[i] = a.spec().dropout();
            gens[i++] = dropoutGenerators.get(a.name());
        }
        Tensor y = base.forwardBase(x);
        Tensor delta = SegmentedLora.delta(F.reshape(x, tokens, in), tokenAdapters, as, bs, s, p, gens, training());
        return F.add(y, F.reshape(delta, y.shape()));
    }

    /** ||W + s B A|| per output row: [out]. No graph is recorded by the callers. */
    static Tensor rowNorms(Tensor w, Tensor a, Tensor b, double s) {
        Tensor v = w.add(b.matmul(a).mul(s));
        return v.mul(v).sum(1, false).sqrt();
    }

    // ------------------------------------------------------------------ merging

    /** The update {@code s B A} [out, in] of adapter {@code name} (no graph recorded). */
    public Tensor deltaWeight(String name) {
        LoraAdapter a = adapter(name);
        try (NoGrad scope = NoGrad.enter()) {
            return a.b().detach().matmul(a.a().detach()).mul(a.scaling());
        }
    }

    /** Merges the active adapters that are not merged yet. */
    public void merge() { merge(active); }

    /**
     * Folds the named adapters into the base weight, in order (adapters already merged are skipped).
     *
     * @throws IllegalArgumentException naming an unknown adapter; nothing is merged then
     */
    public void merge(List<String> names) {
        for (String n : names) adapter(n);
        try (NoGrad scope = NoGrad.enter()) {
            Tensor w = base.weight();
            for (String n : names) {
                if (isMerged(n)) continue;
                LoraAdapter a = adapters.get(n);
                Tensor delta = deltaWeight(n);
                if (a.isDora()) {
                    Tensor v = w.add(delta);
                    Tensor norm = v.mul(v).sum(1, false).sqrt();
                    Tensor factor = a.magnitude().detach().div(norm);
                    w.copyFrom(v.mul(factor.unsqueeze(1)));
                    merged.push(new Merge(n, norm));
                } else {
                    w.addInPlace(delta);
                    merged.push(new Merge(n, null));
                }
            }
        }
    }

    /** Undoes every merge, last merged first. */
    public void unmerge() {
        try (NoGrad scope = NoGrad.enter()) {
            Tensor w = base.weight();
            while (!merged.isEmpty()) {
                Merge m = merged.pop();
                LoraAdapter a = adapters.get(m.name());
                Tensor delta = deltaWeight(m.name());
                if (m.doraNorm() != null) {
                    Tensor factor = a.magnitude().detach().div(m.doraNorm().to(w.device()));
                    w.copyFrom(w.div(factor.unsqueeze(1)).sub(delta));
                } else {
                    w.addInPlace(delta, -1.0);
                }
            }
        }
    }

    /** True when adapter {@code name} is merged into W. */
    public boolean isMerged(String name) {
        for (Merge m : merged) if (m.name().equals(name)) return true;
        return false;
    }

    /** The merged adapters, first merged first. */
    public List<String> mergedAdapters() {
        List<String> out = new ArrayList<>();
        for (Merge m : merged) out.add(0, m.name());
        return out;
    }

    /**
     * Merges the active adapters and gives the base layer back without this wrapper (its forward
     * override removed), as PEFT's {@code merge_and_unload}. This layer is unusable afterwards.
     */
    public Linear mergeAndUnwrap() {
        merge();
        merged.clear();
        unwrap();
        return base;
    }

    /** Removes the forward override from the base layer (the adapters stay here, unused by the base). */
    public void unwrap() {
        if (wrapped && base.forwardOverride() != null) base.setForwardOverride(null);
        wrapped = false;
    }

    /** The trainable (requiresGrad) parameters of this layer by full name. */
    public Map<String, Tensor> trainableParameters() {
        Map<String, Tensor> outMap = new LinkedHashMap<>();
        Map<Tensor, Boolean> seen = new IdentityHashMap<>();
        for (Map.Entry<String, Tensor> e : namedParameters().entrySet()) {
            if (e.getValue().requiresGrad() && seen.put(e.getValue(), Boolean.TRUE) == null) outMap.put(e.getKey(), e.getValue());
        }
        return outMap;
    }

    @Override
    protected String describe() {
        return "in=" + in + ", out=" + out + ", adapters=" + adapters.values() + ", active=" + active
                + (merged.isEmpty() ? "" : ", merged=" + mergedAdapters()) + (enabled ? "" : ", disabled");
    }
}
