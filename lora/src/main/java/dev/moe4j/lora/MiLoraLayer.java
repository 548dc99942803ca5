package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Activation;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * MiLoRA on one transformer layer (Zhang et al. 2024, "MiLoRA: Efficient Mixture of Low-Rank
 * Adaptation for Large Language Models Fine-tuning"): each LoRA module of the layer (one per adapted
 * linear layer, e.g. q, k, v, o, gate, up, down) is an expert, and a {@link PromptRouter} decides
 * once per sequence which of them are used.
 * <pre>
 *   M adapted layers m = 0..M-1 of the block, each a frozen W_m plus LoRA A_m [r, in_m], B_m [out_m, r]
 *   g = router(prompt states) [B, M]                              once per sequence
 *   y_m[b, s] = W_m x[b, s] + b_m + g[b, m] * s_lora * B_m A_m x[b, s]     for every token s of sequence b
 * </pre>
 * <h2>Where the router looks, and when</h2>
 * The router reads the input of one designated adapted layer, the "router input" (for a Llama block,
 * {@code q_proj}: its input is the normalised hidden state entering the attention, the prompt
 * representation the paper routes on). That layer must run first in the block's forward: its call
 * computes the gates for the batch, the other layers of the block read them.
 * <ul>
 *   <li>Without sequence ids (training, or one-shot evaluation) every forward routes each row of
 *       the batch from its own tokens, in the graph.</li>
 *   <li>With sequence ids ({@link #setSequenceIds}), the gates are cached by id: the first forward
 *       of a sequence (its prompt) routes and stores them, every later forward of that sequence (its
 *       generated tokens, one at a time) reuses them without running the router. This is MiLoRA's
 *       saving at decoding time. {@link #forget} and {@link #clearCache} drop entries.</li>
 * </ul>
 * Inputs are [B, S, in] (B sequences of S tokens) or [S, in] (one sequence).
 */
public final class MiLoraLayer extends Module {
    private final PromptRouter router;
    private final List<MiLoraLinear> experts;
    private final int routerInput;
    /** Most sequences whose gates are kept; the least recently used one goes first (a serving loop never grows it without bound). */
    public static final int MAX_CACHED_SEQUENCES = 65536;

    private final Map<Long, double[]> cache = new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, double[]> eldest) { return size() > MAX_CACHED_SEQUENCES; }
    };
    private long[] sequenceIds;
    private Tensor current;
    /** The adapted layers that took the current gates since the router input layer last routed. */
    private final java.util.Set<String> servedSinceRoute = new java.util.HashSet<>();

    /**
     * @param modules     the M layers to adapt (each becomes an expert)
     * @param names       their names (for the parameter names; dots become underscores)
     * @param routerInput index of the layer whose input the router reads
     * @param spec        the LoRA settings of every expert (no DoRA)
     * @param topK        k experts per sequence, in [1, M]
     * @param pooling     the router's pooler
     * @param activation  the router's activation after pooling, or null
     * @param gen         source of initial values and dropout masks
     * @throws IllegalArgumentException for empty or mismatched lists, a repeated or already wrapped
     *         layer, a router input out of range, a rank that does not fit, DoRA, or a bad k
     */
    public MiLoraLayer(List<Linear> modules, List<String> names, int routerInput, AdapterSpec spec, int topK,
                       PromptRouter.Pooling pooling, Activation activation, Generator gen) {
        if (modules == null || names == null || modules.isEmpty() || modules.size() != names.size()) {
            throw new IllegalArgumentException("MiLoRA needs as many names as adapted layers (at least one), got " + (modules == null ? 0 : modules.size())
                    + " layers and " + (names == null ? 0 : names.size()) + " names");
        }
        if (routerInput < 0 || routerInput >= modules.size()) throw new IllegalArgumentException("router input index " + routerInput + " outside [0, " + modules.size() + ")");
        if (spec == null || gen == null) throw new IllegalArgumentException("spec and generator must not be null");
        if (spec.useDora()) throw new IllegalArgumentException("MiLoRA experts are plain LoRA modules; DoRA is not supported");
        Set<Linear> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<String> keys = new HashSet<>();
        for (int m = 0; m < modules.size(); m++) {
            Linear l = modules.get(m);
            if (l == null || !seen.add(l)) throw new IllegalArgumentException("adapted layer '" + names.get(m) + "' is null or repeated");
            if (l.forwardOverride() != null) throw new IllegalArgumentException("layer '" + names.get(m) + "' is already wrapped by another adapter layer");
            LoraLinear.checkRank(spec, l);
            if (!keys.add(key(names.get(m)))) throw new IllegalArgumentException("two adapted layers are named '" + key(names.get(m)) + "'");
        }
        Linear source = modules.get(routerInput);
        this.router = registerModule("router", new PromptRouter(source.weight().size(1), modules.size(), topK, pooling, activation,
                source.weight().dtype(), gen));
        this.routerInput = routerInput;
        ModuleDict dict = registerModule("experts", new ModuleDict());
        List<MiLoraLinear> list = new ArrayList<>();
        for (int m = 0; m < modules.size(); m++) list.add(dict.put(key(names.get(m)), new MiLoraLinear(this, m, modules.get(m), spec, gen)));
        this.experts = Collections.unmodifiableList(list);
    }

    private static String key(String name) { return name.replace('.', '_'); }

    /**
     * Attaches MiLoRA to the named linear layers of one block (paths relative to the block), the router
     * reading the input of {@code routerInput} (one of them), with no activation after pooling.
     *
     * @throws IllegalArgumentException naming a path that is missing or not a Linear, and the cases of the constructor
     */
    public static MiLoraLayer attach(Module block, String routerInput, List<String> expertModules, AdapterSpec spec, int topK,
                                     PromptRouter.Pooling pooling, Generator gen) {
        Map<String, Module> all = LoraModel.modules(block);
        List<Linear> mods = new ArrayList<>();
        for (String p : expertModules) {
            Module m = all.get(p);
            if (!(m instanceof Linear l)) throw new IllegalArgumentException("module '" + p + "' is " + (m == null ? "not in the block" : "a " + m.getClass().getSimpleName() + ", not a Linear"));
            mods.add(l);
        }
        int idx = expertModules.indexOf(routerInput);
        if (idx < 0) throw new IllegalArgumentException("router input '" + routerInput + "' must be one of the adapted modules " + expertModules);
        return new MiLoraLayer(mods, expertModules, idx, spec, topK, pooling, null, gen);
    }

    /** The router. */
    public PromptRouter router() { return router; }

    /** The M experts, in order. */
    public List<MiLoraLinear> experts() { return experts; }

    /** Index of the layer whose input the router reads. */
    public int routerInput() { return routerInput; }

    /**
     * The sequence of each batch row for the following forwards (null: no caching, route every
     * forward). Ids in one batch must be distinct.
     *
     * @throws IllegalArgumentException for a repeated id
     */
    public void setSequenceIds(long... ids) {
        if (ids != null) {
            Set<Long> s = new HashSet<>();
            for (long id : ids) if (!s.add(id)) throw new IllegalArgumentException("sequence id " + id + " appears twice in one batch");
        }
        this.sequenceIds = ids == null ? null : ids.clone();
    }

    /** Drops the cached routing of one sequence (when it has finished). */
    public void forget(long sequenceId) { cache.remove(sequenceId); }

    /** Drops every cached routing. */
    public void clearCache() { cache.clear(); }

    /** The ids with a cached routing (a copy). */
    public Set<Long> cachedSequences() { return new HashSet<>(cache.keySet()); }

    /** The cached gates [M] of a sequence (a copy), or null. */
    public double[] cachedGates(long sequenceId) {
        double[] g = cache.get(sequenceId);
        return g == null ? null : g.clone();
    }

    /** The gates [B, M] of the current forward, or null before the router input ran. */
    public Tensor currentGates() { return current; }

    /** Routes a batch x [B, S, d] (the router input layer's input): sets the current gates. */
    void route(Tensor x) {
        servedSinceRoute.clear();
        int b = x.size(0), m = experts.size();
        if (sequenceIds == null) {
            current = router.gates(x);
            return;
        }
        if (sequenceIds.length != b) {
            throw new IllegalArgumentException("MiLoRA: " + sequenceIds.length + " sequence ids set for a batch of " + b + " sequences");
        }
        List<Integer> missing = new ArrayList<>();
        for (int i = 0; i < b; i++) if (!cache.containsKey(sequenceIds[i])) missing.add(i);
        Tensor fresh = null;
        if (!missing.isEmpty()) {
            long[] rows = new long[missing.size()];
            for (int j = 0; j < rows.length; j++) rows[j] = missing.get(j);
            Tensor prompts = missing.size() == b ? x : F.indexSelect(x, 0, Tensor.of(rows, rows.length).to(x.device()));
            fresh = router.gates(prompts);
            double[] v = fresh.toDoubleArray();
            for (int j = 0; j < rows.length; j++) {
                double[] g = new double[m];
                System.arraycopy(v, j * m, g, 0, m);
                cache.put(sequenceIds[missing.get(j)], g);
            }
            if (missing.size() == b) {
                current = fresh;
                return;
            }
        }
        List<Tensor> rows = new ArrayList<>();
        int j = 0;
        for (int i = 0; i < b; i++) {
            if (j < missing.size() && missing.get(j) == i) rows.add(F.narrow(fresh, 0, j++, 1));
            else rows.add(Tensor.of(cache.get(sequenceIds[i]), 1, m).to(x.dtype()).to(x.device()));
        }
        current = F.cat(rows, 0);
    }

    /** The current gates, checked against the batch size. */
    Tensor gates(int batch, String who) {
        // a layer asking twice since the last routing means the router input layer did not run in this forward:
        // the gates would belong to the previous batch
        if (current == null || current.size(0) != batch || !servedSinceRoute.add(who)) {
            throw new IllegalStateException("MiLoRA: layer '" + who + "' ran before the router input layer '"
                    + experts.get(routerInput).name() + "' routed this batch of " + batch + " sequences; it must run first");
        }
        return current;
    }

    /** Sets training mode on this layer and the adapted layers. Returns this. */
    @Override
    public MiLoraLayer train(boolean on) {
        super.train(on);
        for (MiLoraLinear e : experts) e.baseLayer().train(on);
        return this;
    }

    /** The router's and the experts' trainable parameters by name. */
    public Map<String, Tensor> trainableParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : namedParameters().entrySet()) if (e.getValue().requiresGrad()) out.put(e.getKey(), e.getValue());
        return out;
    }

    /** Removes the experts from their layers. */
    public void unwrap() {
        for (MiLoraLinear e : experts) e.unwrap();
    }

    /** A layer has no forward of its own: the adapted layers run the experts. @throws IllegalStateException always */
    @Override
    public Tensor forward(Tensor input) {
        throw new IllegalStateException("a MiLoRA layer runs through its adapted Linear layers; call the model");
    }

    @Override
    protected String describe() { return "M=" + experts.size() + ", router input=" + experts.get(routerInput).name() + ", cached=" + cache.size(); }
}
