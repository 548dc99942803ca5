package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Mixtures of LoRA experts attached to the linear layers of a model, with a number of experts per
 * layer: MoLA's layer-wise allocation (Gao et al. 2024, "Higher Layers Need More LoRA Experts") at
 * model level.
 * <pre>{@code
 * LoraMixtureModel mola = LoraMixtureModel.attach(model, ModulePattern.names("q_proj", "v_proj"),
 *         AdapterSpec.of(8, 16), ExpertAllocation.groups(32, 2, 4, 6, 8),
 *         (base, n, spec, gen) -> new MixLoraLinear(base, n, 2, spec, gen), new Generator(0));
 * Tensor loss = F.add(task, F.mul(mola.auxLoss(), 0.01));
 * }</pre>
 * Every module the pattern selects must be a {@link Linear} that no adapter wraps yet; each gets the
 * mixture the factory builds with {@link ExpertAllocation#expertsFor} experts (MoLA's own choice is
 * {@link MixLoraLinear} with k = 2; any {@link LoraMixtureLinear} works). All checks (targets, counts,
 * ranks) run before the model changes; a factory that throws undoes the layers built so far. The
 * model's own parameters are frozen; {@link #trainableParameters()} are the routers and experts.
 */
public final class LoraMixtureModel {

    /** Builds the mixture for one layer. */
    @FunctionalInterface
    public interface MixtureFactory {
        /**
         * @param base       the layer to adapt
         * @param numExperts N for this layer
         * @param spec       the experts' settings
         * @param gen        source of initial values
         * @return the mixture, wrapping {@code base}
         */
        LoraMixtureLinear create(Linear base, int numExperts, AdapterSpec spec, Generator gen);
    }

    private final Module model;
    private final Map<String, LoraMixtureLinear> layers;

    private LoraMixtureModel(Module model, Map<String, LoraMixtureLinear> layers) {
        this.model = model;
        this.layers = Collections.unmodifiableMap(layers);
    }

    /**
     * Attaches a mixture to every selected linear layer.
     *
     * @param targets    which modules (dotted paths) to adapt
     * @param spec       the experts' rank, alpha, dropout, initialisation (no DoRA)
     * @param allocation N per layer
     * @param factory    builds one layer's mixture
     * @param gen        source of initial values
     * @throws IllegalArgumentException naming every problem (no target, a target that is not a free
     *         Linear, a count or rank that does not fit) before anything changes, or naming the layer
     *         whose factory failed (the model then is as before)
     */
    public static LoraMixtureModel attach(Module model, ModulePattern targets, AdapterSpec spec, ExpertAllocation allocation,
                                          MixtureFactory factory, Generator gen) {
        if (model == null || targets == null || spec == null || allocation == null || factory == null || gen == null) {
            throw new IllegalArgumentException("model, targets, spec, allocation, factory and generator must not be null");
        }
        Map<String, Module> all = LoraModel.modules(model);
        List<String> problems = new ArrayList<>();
        List<String> unmatched = targets.unmatchedNames(all.keySet());
        if (!unmatched.isEmpty()) problems.add("target modules " + unmatched + " match no module of the model");
        if (spec.useDora()) problems.add("mixtures of LoRA experts do not support DoRA experts");
        Map<String, Linear> chosen = new LinkedHashMap<>();
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : all.entrySet()) {
            String path = e.getKey();
            boolean linear = e.getValue() instanceof Linear;
            if (!targets.matches(path, linear)) continue;
            if (!linear) {
                problems.add("target module '" + path + "' is a " + e.getValue().getClass().getSimpleName() + ", not a Linear");
                continue;
            }
            Linear lin = (Linear) e.getValue();
            try {
                if (lin.forwardOverride() != null) throw new IllegalArgumentException("the Linear is already wrapped by another adapter layer");
                LoraLinear.checkRank(spec, lin);
                counts.put(path, allocation.expertsFor(path));
            } catch (IllegalArgumentException ex) {
                problems.add("module '" + path + "': " + ex.getMessage());
                continue;
            }
            chosen.put(path, lin);
        }
        if (chosen.isEmpty() && problems.isEmpty()) problems.add("targets " + targets + " select no module of the model");
        if (!problems.isEmpty()) throw new IllegalArgumentException("cannot attach mixtures: " + String.join("; ", problems));

        Map<Tensor, Boolean> trainable = new IdentityHashMap<>();
        for (Tensor t : model.parameters()) trainable.put(t, t.requiresGrad());
        for (Tensor t : model.parameters()) t.setRequiresGrad(false);
        Map<String, LoraMixtureLinear> built = new LinkedHashMap<>();
        for (Map.Entry<String, Linear> e : chosen.entrySet()) {
            try {
                LoraMixtureLinear m = factory.create(e.getValue(), counts.get(e.getKey()), spec, gen);
                if (m == null || m.baseLayer() != e.getValue()) throw new IllegalArgumentException("the factory must return a mixture wrapping the given layer");
                built.put(e.getKey(), m);
            } catch (RuntimeException ex) {
                for (LoraMixtureLinear m : built.values()) m.unwrap();
                if (e.getValue().forwardOverride() != null) e.getValue().setForwardOverride(null);   // the chosen layers were free before
                for (Map.Entry<Tensor, Boolean> t : trainable.entrySet()) t.getKey().setRequiresGrad(t.getValue());
                throw new IllegalArgumentException("cannot attach a mixture to '" + e.getKey() + "' with N = " + counts.get(e.getKey()) + ": " + ex.getMessage(), ex);
            }
        }
        return new LoraMixtureModel(model, built);
    }

    /** The model. */
    public Module model() { return model; }

    /** Runs the model (its adapted layers run their mixtures). */
    public Tensor forward(Tensor x) { return model.forward(x); }

    /** The mixtures by module path (read-only). */
    public Map<String, LoraMixtureLinear> layers() { return layers; }

    /** N per module path. */
    public Map<String, Integer> expertCounts() {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Map.Entry<String, LoraMixtureLinear> e : layers.entrySet()) out.put(e.getKey(), e.getValue().experts().numExperts());
        return out;
    }

    /** Total number of LoRA experts over all layers. */
    public int totalExperts() {
        int n = 0;
        for (LoraMixtureLinear l : layers.values()) n += l.experts().numExperts();
        return n;
    }

    /** The routers' and experts' parameters (a list for an optimizer). */
    public List<Tensor> trainableParameters() {
        List<Tensor> out = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (LoraMixtureLinear l : layers.values()) {
            for (Tensor t : l.trainableParameters().values()) if (seen.add(t)) out.add(t);
        }
        return out;
    }

    /** The sum of the layers' auxiliary losses of the last forward (0-dim, in the graph), or null when none has one. */
    public Tensor auxLoss() {
        Tensor sum = null;
        for (LoraMixtureLinear l : layers.values()) {
            Tensor a = l.auxLoss();
            if (a != null) sum = sum == null ? a : F.add(sum, a);
        }
        return sum;
    }

    /** Sets training mode on the model and every mixture. Returns this. */
    public LoraMixtureModel train(boolean on) {
        model.train(on);
        for (LoraMixtureLinear l : layers.values()) l.train(on);
        return this;
    }

    /**
     * Moves the model and every mixture (its routers and experts, which the model's module tree does
     * not hold) to {@code device}, in place ({@link Module#to}). Returns this.
     *
     * @throws IllegalStateException naming CUDA's reason when {@code device} is a CUDA device and CUDA is unavailable
     */
    public LoraMixtureModel to(Device device) {
        model.to(device);
        for (LoraMixtureLinear l : layers.values()) l.to(device);
        return this;
    }

    /** Removes every mixture from its layer (the base layers stay frozen). Returns the model. */
    public Module unload() {
        for (LoraMixtureLinear l : layers.values()) l.unwrap();
        return model;
    }

    @Override
    public String toString() { return "LoraMixtureModel(experts=" + expertCounts() + ")"; }
}
