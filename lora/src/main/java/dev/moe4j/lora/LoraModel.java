package dev.moe4j.lora;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;
import dev.moe4j.tensor.io.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LoRA adapters attached to the linear layers of a model, as PEFT's {@code LoraModel} /
 * {@code PeftModel}: targets chosen by name patterns, several named adapters with an active set,
 * merge and unload, and PEFT adapter folders.
 *
 * <h2>Attaching</h2>
 * The model's modules are walked with their dotted paths ({@code "layers.0.q_proj"}); every module
 * that {@link LoraConfig#targets} selects must be a {@link Linear} (or a {@link LoraLinear}, which
 * then receives the adapter). Each targeted Linear is wrapped by a {@link LoraLinear}, which becomes
 * its forward override: the model's own code keeps calling its Linear fields and gets the adapted
 * output. All parameters of the model are frozen; only the active adapters' parameters are
 * trainable ({@link #trainableParameters()}).
 *
 * <h2>Checks first</h2>
 * Adding or loading an adapter validates everything before changing anything: the name, every
 * target (a target name that matches no module, a targeted module that is not linear, a rank above
 * min(in, out)), and for a loaded adapter every tensor (unexpected or missing keys, shapes that do
 * not fit the base layer). A failure throws {@link IllegalArgumentException} naming all problems and
 * leaves the model as it was.
 *
 * <h2>PEFT names</h2>
 * A PEFT model's parameters are named {@code base_model.model.<path>.base_layer.weight},
 * {@code base_model.model.<path>.lora_A.<adapter>.weight}, ... ({@link #peftNamedParameters()});
 * saved adapter files drop the adapter name: {@code base_model.model.<path>.lora_A.weight},
 * {@code .lora_B.weight}, {@code .lora_magnitude_vector} ({@link #adapterStateDict}).
 */
public final class LoraModel {
    /** PEFT's name of the first adapter. */
    public static final String DEFAULT_ADAPTER = "default";
    /** Prefix of every module path in PEFT's parameter and file names. */
    public static final String PREFIX = "base_model.model.";
    /** The weights file inside an adapter folder. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";

    private static final String A_SUFFIX = ".lora_A.weight", B_SUFFIX = ".lora_B.weight", M_SUFFIX = ".lora_magnitude_vector";

    private final Module model;
    private final Map<String, LoraLinear> layers = new LinkedHashMap<>();
    private final Map<String, LoraConfig> configs = new LinkedHashMap<>();
    private final List<String> active = new ArrayList<>();

    private LoraModel(Module model) {
        if (model == null) throw new IllegalArgumentException("model is null");
        this.model = model;
    }

    /** Attaches a new adapter called "default" to {@code model}. See {@link #attach(Module, String, LoraConfig, Generator)}. */
    public static LoraModel attach(Module model, LoraConfig config, Generator gen) {
        return attach(model, DEFAULT_ADAPTER, config, gen);
    }

    /**
     * Attaches a freshly initialised adapter to the targeted layers of {@code model} and freezes the
     * rest of the model.
     *
     * @param gen source of the initial values and dropout masks
     * @throws IllegalArgumentException when a check fails (see the class comment); the model is unchanged
     */
    public static LoraModel attach(Module model, String adapterName, LoraConfig config, Generator gen) {
        LoraModel m = new LoraModel(model);
        m.addAdapter(adapterName, config, gen);
        return m;
    }

    /**
     * Loads a PEFT adapter folder onto {@code model} as adapter "default" (PEFT's
     * {@code PeftModel.from_pretrained}).
     *
     * @throws IOException when the folder cannot be read
     * @throws IllegalArgumentException when a check fails; the model is unchanged
     */
    public static LoraModel fromPretrained(Module model, Path folder) throws IOException {
        LoraModel m = new LoraModel(model);
        m.loadAdapter(folder, DEFAULT_ADAPTER, new Generator(0));
        return m;
    }

    /** The wrapped model. */
    public Module model() { return model; }

    /** Runs the model (whose targeted layers now include the adapters). */
    public Tensor forward(Tensor x) { return model.forward(x); }

    /** The adapted layers by module path (read-only). */
    public Map<String, LoraLinear> layers() { return Collections.unmodifiableMap(layers); }

    /** The adapter configs by adapter name (read-only). */
    public Map<String, LoraConfig> configs() { return Collections.unmodifiableMap(configs); }

    /** The config of adapter {@code name}. @throws IllegalArgumentException when there is none */
    public LoraConfig config(String name) {
        LoraConfig c = configs.get(name);
        if (c == null) throw new IllegalArgumentException("no adapter '" + name + "'; the model has " + configs.keySet());
        return c;
    }

    // ------------------------------------------------------------------ adding adapters

    /**
     * Adds a freshly initialised adapter (inactive unless it is the first one).
     *
     * @throws IllegalArgumentException when a check fails; the model is unchanged
     */
    public void addAdapter(String name, LoraConfig config, Generator gen) {
        if (gen == null) throw new IllegalArgumentException("generator is null");
        Map<String, Target> targets = resolve(name, config);
        apply(name, config, targets, gen);
    }

    /** A targeted module: its path, the module, the adapter settings for it. */
    private record Target(String path, Module module, AdapterSpec spec) {
        Linear base() { return module instanceof LoraLinear l ? l.baseLayer() : (Linear) module; }
    }

    /** Every check of an adapter before it is added; returns the targets by path. */
    private Map<String, Target> resolve(String name, LoraConfig config) {
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException("adapter name must be non-empty and without dots, got '" + name + "'");
        }
        if (configs.containsKey(name)) throw new IllegalArgumentException("adapter '" + name + "' already exists");
        if (config == null) throw new IllegalArgumentException("config is null");
        Map<String, Module> all = modules(model);
        List<String> problems = new ArrayList<>();
        List<String> unmatched = config.targetModules().unmatchedNames(all.keySet());
        if (!unmatched.isEmpty()) {
            problems.add("target modules " + unmatched + " match no module of the model (its modules: " + abbreviate(all.keySet()) + ")");
        }
        Map<String, Target> targets = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : all.entrySet()) {
            String path = e.getKey();
            Module m = e.getValue();
            boolean linear = m instanceof Linear || m instanceof LoraLinear;
            if (!config.targets(path, linear)) continue;
            if (!linear) {
                problems.add("target module '" + path + "' is a " + m.getClass().getSimpleName() + "; only Linear layers take LoRA adapters");
                continue;
            }
            AdapterSpec spec = config.specFor(path);
            try {
                if (m instanceof LoraLinear l) {
                    l.checkAdapter(name, spec);
                } else {
                    Linear lin = (Linear) m;
                    LoraLinear existing = layers.get(path);
                    if (existing != null) existing.checkAdapter(name, spec);
                    else if (lin.forwardOverride() != null) throw new IllegalArgumentException("the Linear is already wrapped by another adapter layer");
                    else LoraLinear.checkRank(spec, lin);
                }
            } catch (IllegalArgumentException ex) {
                problems.add("module '" + path + "': " + ex.getMessage());
                continue;
            }
            targets.put(path, new Target(path, m, spec));
        }
        if (targets.isEmpty() && problems.isEmpty()) {
            problems.add("target_modules " + config.targetModules() + " select no module of the model (its modules: " + abbreviate(all.keySet()) + ")");
        }
        if (!problems.isEmpty()) throw new IllegalArgumentException("cannot add adapter '" + name + "': " + String.join("; ", problems));
        return targets;
    }

    private void apply(String name, LoraConfig config, Map<String, Target> targets, Generator gen) {
        boolean first = configs.isEmpty();
        if (first) {
            for (Tensor t : model.parameters()) t.setRequiresGrad(false);
        }
        for (Target t : targets.values()) {
            LoraLinear layer = layers.get(t.path());
            if (layer == null) {
                layer = t.module() instanceof LoraLinear l ? l : new LoraLinear((Linear) t.module());
                layers.put(t.path(), layer);
            }
            layer.addAdapter(name, t.spec(), gen);
        }
        configs.put(name, config);
        if (active.isEmpty()) active.add(name);
        applyActive();
    }

    private void applyActive() {
        for (LoraLinear layer : layers.values()) {
            List<String> here = new ArrayList<>();
            for (String n : active) if (layer.hasAdapter(n)) here.add(n);
            layer.setActiveAdapters(here);
        }
    }

    /** The modules of the tree below {@code root} by dotted path, not descending into LoRA layers. */
    static Map<String, Module> modules(Module root) {
        Map<String, Module> out = new LinkedHashMap<>();
        Set<Module> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        walk(root, "", out, seen);
        return out;
    }

    private static void walk(Module m, String prefix, Map<String, Module> out, Set<Module> seen) {
        for (Map.Entry<String, Module> e : m.namedChildren().entrySet()) {
            Module c = e.getValue();
            if (!seen.add(c)) continue;
            String path = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            out.put(path, c);
            if (!(c instanceof LoraLinear)) walk(c, path, out, seen);
        }
    }

    private static String abbreviate(Set<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.size() <= 20 ? l.toString() : l.subList(0, 20) + " and " + (l.size() - 20) + " more";
    }

    // ------------------------------------------------------------------ PEFT folders

    /**
     * Loads a PEFT adapter folder ({@code adapter_config.json} + {@code adapter_model.safetensors})
     * as adapter {@code name}.
     *
     * @param gen source of the dropout masks
     * @throws IOException when the files cannot be read
     * @throws IllegalArgumentException when the config has unsupported fields or a check fails; the
     *         model is unchanged
     */
    public void loadAdapter(Path folder, String name, Generator gen) throws IOException {
        LoraConfig config = PeftConfigJson.read(folder);
        Path weights = folder.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            boolean pickle = Files.exists(folder.resolve("adapter_model.bin"));
            throw new IllegalArgumentException("no " + WEIGHTS_FILE + " in " + folder
                    + (pickle ? " (adapter_model.bin holds pickled PyTorch tensors, which are not read; save with safe_serialization=True)" : ""));
        }
        loadAdapter(name, config, SafetensorsFile.load(weights), gen);
    }

    /**
     * Adds adapter {@code name} with the given config and weights under PEFT's file keys
     * ({@code base_model.model.<path>.lora_A.weight}, {@code .lora_B.weight},
     * {@code .lora_magnitude_vector}); values are converted to the base layers' dtype.
     *
     * @throws IllegalArgumentException naming every unexpected key, missing key and shape that does
     *         not fit; the model is unchanged
     */
    public void loadAdapter(String name, LoraConfig config, Map<String, Tensor> weights, Generator gen) {
        if (gen == null) throw new IllegalArgumentException("generator is null");
        Map<String, Target> targets = resolve(name, config);
        List<String> problems = new ArrayList<>();
        Map<String, Tensor> found = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            String key = e.getKey();
            String path = null, kind = null;
            if (key.startsWith(PREFIX)) {
                String rest = key.substring(PREFIX.length());
                for (String suffix : List.of(A_SUFFIX, B_SUFFIX, M_SUFFIX)) {
                    if (rest.endsWith(suffix)) {
                        path = rest.substring(0, rest.length() - suffix.length());
                        kind = suffix;
                    }
                }
            }
            Target t = path == null ? null : targets.get(path);
            if (t == null || (kind.equals(M_SUFFIX) && !t.spec().useDora())) {
                problems.add("unexpected tensor '" + key + "'");
                continue;
            }
            Tensor v = e.getValue();
            if (!v.dtype().isFloatingPoint()) {
                problems.add("tensor '" + key + "' is " + v.dtype() + ", not floating point");
                continue;
            }
            Linear base = t.base();
            int in = base.weight().size(1), out = base.weight().size(0), r = t.spec().r();
            int[] want = switch (kind) {
                case A_SUFFIX -> new int[] {r, in};
                case B_SUFFIX -> new int[] {out, r};
                default -> new int[] {out};
            };
            if (!Arrays.equals(v.shape(), want)) {
                problems.add("tensor '" + key + "' has shape " + Shape.str(v.shape()) + ", the layer '" + path + "' with weight "
                        + Shape.str(base.weight().shape()) + " and r = " + r + " needs " + Shape.str(want));
                continue;
            }
            found.put(path + kind, v);
        }
        for (Target t : targets.values()) {
            List<String> need = new ArrayList<>(List.of(A_SUFFIX, B_SUFFIX));
            if (t.spec().useDora()) need.add(M_SUFFIX);
            for (String s : need) {
                if (!found.containsKey(t.path() + s)) problems.add("missing tensor '" + PREFIX + t.path() + s + "'");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("cannot load adapter '" + name + "': " + String.join("; ", problems));
        }
        apply(name, config, targets, gen);
        try (NoGrad scope = NoGrad.enter()) {
            for (Target t : targets.values()) {
                LoraAdapter a = layers.get(t.path()).adapter(name);
                a.a().copyFrom(found.get(t.path() + A_SUFFIX));
                a.b().copyFrom(found.get(t.path() + B_SUFFIX));
                if (a.isDora()) a.magnitude().copyFrom(found.get(t.path() + M_SUFFIX));
            }
        }
    }

    /**
     * The tensors of adapter {@code name} under PEFT's file keys, in layer order (the parameters
     * themselves, detached).
     */
    public Map<String, Tensor> adapterStateDict(String name) {
        config(name);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, LoraLinear> e : layers.entrySet()) {
            if (!e.getValue().hasAdapter(name)) continue;
            LoraAdapter a = e.getValue().adapter(name);
            out.put(PREFIX + e.getKey() + A_SUFFIX, a.a().detach());
            out.put(PREFIX + e.getKey() + B_SUFFIX, a.b().detach());
            if (a.isDora()) out.put(PREFIX + e.getKey() + M_SUFFIX, a.magnitude().detach());
        }
        return out;
    }

    /**
     * Writes adapter {@code name} as a PEFT folder: {@code adapter_config.json} and
     * {@code adapter_model.safetensors} (metadata {@code format: pt}), in the parameters' dtype.
     *
     * @throws IOException when writing fails
     */
    public void saveAdapter(Path folder, String name) throws IOException {
        LoraConfig config = config(name);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : adapterStateDict(name).entrySet()) tensors.put(e.getKey(), e.getValue().contiguous());
        Files.createDirectories(folder);
        PeftConfigJson.write(folder, config);
        SafetensorsWriter.save(folder.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
    }

    /**
     * Writes every adapter as PEFT's {@code save_pretrained} does: "default" into {@code folder}
     * itself, each other adapter into {@code folder/<name>}.
     */
    public void save(Path folder) throws IOException {
        for (String name : configs.keySet()) saveAdapter(name.equals(DEFAULT_ADAPTER) ? folder : folder.resolve(name), name);
    }

    // ------------------------------------------------------------------ active set, merging

    /**
     * Makes exactly these adapters active everywhere (their parameters trainable, the others' frozen).
     *
     * @throws IllegalArgumentException naming an unknown adapter; nothing changes then
     */
    public void setActiveAdapters(String... names) {
        for (String n : names) config(n);
        active.clear();
        for (String n : names) if (!active.contains(n)) active.add(n);
        applyActive();
    }

    /** The active adapters (a copy). */
    public List<String> activeAdapters() { return List.copyOf(active); }

    /**
     * Gives each token of the following forwards its adapter by name (null: base model only) in every
     * adapted layer, as PEFT's {@code adapter_names} (a layer without that adapter leaves the token
     * unadapted); null ends the mixed mode. See {@link SegmentedLora}.
     *
     * @throws IllegalArgumentException naming an unknown adapter, or a DoRA one; nothing changes then
     */
    public void setTokenAdapters(String... perToken) {
        if (perToken == null) {
            for (LoraLinear l : layers.values()) l.setTokenAdapterIds(null);
            return;
        }
        for (String n : perToken) if (n != null) config(n);
        Map<LoraLinear, int[]> ids = new LinkedHashMap<>();
        for (LoraLinear l : layers.values()) {
            List<String> names = l.adapterNames();
            int[] id = new int[perToken.length];
            for (int t = 0; t < id.length; t++) id[t] = perToken[t] == null ? -1 : names.indexOf(perToken[t]);
            for (int t = 0; t < id.length; t++) {
                if (id[t] >= 0 && l.adapter(perToken[t]).isDora()) {
                    throw new IllegalArgumentException("DoRA adapter '" + perToken[t] + "' cannot be used in a mixed batch");
                }
            }
            ids.put(l, id);
        }
        for (Map.Entry<LoraLinear, int[]> e : ids.entrySet()) e.getKey().setTokenAdapterIds(e.getValue());
    }

    /** Turns every adapter on or off (off: the base model alone; merged adapters are unmerged first). */
    public void setAdaptersEnabled(boolean on) {
        for (LoraLinear l : layers.values()) l.setAdaptersEnabled(on);
    }

    /** Merges the active adapters into the base weights of every layer. */
    public void merge() {
        for (LoraLinear l : layers.values()) l.merge();
    }

    /** Undoes every merge. */
    public void unmerge() {
        for (LoraLinear l : layers.values()) l.unmerge();
    }

    /**
     * Merges the active adapters and removes every adapter layer, giving back the model with the
     * updates folded into its weights (PEFT's {@code merge_and_unload}). This object is unusable
     * afterwards.
     */
    public Module mergeAndUnload() {
        for (LoraLinear l : layers.values()) l.mergeAndUnwrap();
        layers.clear();
        configs.clear();
        active.clear();
        return model;
    }

    /** Unmerges and removes every adapter layer, giving back the original model (PEFT's {@code unload}). */
    public Module unload() {
        for (LoraLinear l : layers.values()) {
            l.unmerge();
            l.unwrap();
        }
        layers.clear();
        configs.clear();
        active.clear();
        return model;
    }

    /** Sets training mode on the model and the adapter layers (dropout is active in training). Returns this. */
    public LoraModel train(boolean on) {
        model.train(on);
        for (LoraLinear l : layers.values()) l.train(on);
        return this;
    }

    /** Evaluation mode: {@code train(false)}. */
    public LoraModel eval() { return train(false); }

    // ------------------------------------------------------------------ parameters

    /** The parameters that require gradients: the active adapters' (a list for an optimizer). */
    public List<Tensor> trainableParameters() {
        List<Tensor> out = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor t : model.parameters()) if (t.requiresGrad() && seen.add(t)) out.add(t);
        for (LoraLinear l : layers.values()) {
            for (Tensor t : l.parameters()) if (t.requiresGrad() && seen.add(t)) out.add(t);
        }
        return out;
    }

    /**
     * Every parameter under the name a PEFT model gives it: {@code base_model.model.<name>} for the
     * model's own parameters, {@code base_model.model.<path>.base_layer.weight} for an adapted
     * layer's base, {@code base_model.model.<path>.lora_A.<adapter>.weight} and so on for the
     * adapters.
     */
    public Map<String, Tensor> peftNamedParameters() {
        Map<Tensor, String> layerOf = new IdentityHashMap<>();
        for (Map.Entry<String, LoraLinear> e : layers.entrySet()) {
            for (Tensor t : e.getValue().parameters()) layerOf.put(t, e.getKey());
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        Set<String> emitted = new java.util.HashSet<>();
        for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
            String path = layerOf.get(e.getValue());
            if (path == null) {
                out.put(PREFIX + e.getKey(), e.getValue());
            } else if (emitted.add(path)) {
                for (Map.Entry<String, Tensor> p : layers.get(path).namedParameters().entrySet()) {
                    out.put(PREFIX + path + "." + p.getKey(), p.getValue());
                }
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "LoraModel(adapters=" + configs.keySet() + ", active=" + active + ", layers=" + layers.keySet() + ")";
    }
}
