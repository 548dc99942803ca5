package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;
import dev.moe4j.tensor.io.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A layer with named parameters, buffers and sub-layers, forming a tree as {@code torch.nn.Module}.
 *
 * <p>A parameter is a leaf tensor that requires a gradient, registered under a name with
 * {@link #registerParameter}; a buffer is state without gradient (running statistics, fixed biases)
 * registered with {@link #registerBuffer}; sub-layers are registered with {@link #registerModule}.
 * Full names join the path with dots ({@code "layers.0.weight"}), in registration order, so that a
 * state dict uses the same names as the PyTorch module written the same way.
 *
 * <p>The training flag ({@link #train}, {@link #eval}) is set on the whole tree; layers such as
 * {@link Dropout} read it.
 */
public abstract class Module {
    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** Creates an empty module in training mode. */
    protected Module() {}

    /**
     * The layer's computation on one input.
     *
     * @param input the input, with the shape the layer documents
     * @return the output
     */
    public abstract Tensor forward(Tensor input);

    // ------------------------------------------------------------------ registration

    /**
     * Registers {@code tensor} as a parameter: it becomes a leaf that requires a gradient.
     *
     * @return the tensor, for assignment to a field
     * @throws IllegalArgumentException for a duplicate or malformed name, or a non-floating tensor
     */
    protected final Tensor registerParameter(String name, Tensor tensor) {
        checkName(name);
        if (!tensor.isLeaf()) {
            throw new IllegalArgumentException("parameter '" + name + "' must be a leaf tensor, not the result of " + tensor.gradFn().name());
        }
        tensor.setRequiresGrad(true);
        parameters.put(name, tensor);
        return tensor;
    }

    /** Registers {@code tensor} as a buffer (saved in the state dict, no gradient). Returns it. */
    protected final Tensor registerBuffer(String name, Tensor tensor) {
        checkName(name);
        buffers.put(name, tensor);
        return tensor;
    }

    /** Registers {@code module} as a sub-layer. Returns it. */
    protected final <M extends Module> M registerModule(String name, M module) {
        checkName(name);
        if (module == this) throw new IllegalArgumentException("a module cannot contain itself");
        children.put(name, module);
        return module;
    }

    private void checkName(String name) {
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException("a parameter, buffer or module name must be non-empty and without dots, got '" + name + "'");
        }
        if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name)) {
            throw new IllegalArgumentException("name '" + name + "' is already registered in " + getClass().getSimpleName());
        }
    }

    // ------------------------------------------------------------------ traversal

    /** Every parameter of the tree by full dotted name, in registration order (each tensor once). */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        collect("", out, seen, true);
        return out;
    }

    /** Every buffer of the tree by full dotted name. */
    public Map<String, Tensor> namedBuffers() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        collect("", out, seen, false);
        return out;
    }

    private void collect(String prefix, Map<String, Tensor> out, Set<Tensor> seen, boolean params) {
        for (Map.Entry<String, Tensor> e : (params ? parameters : buffers).entrySet()) {
            if (seen.add(e.getValue())) out.put(prefix + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Module> e : children.entrySet()) {
            e.getValue().collect(prefix + e.getKey() + ".", out, seen, params);
        }
    }

    /** The parameters of the tree, in the order of {@link #namedParameters()}. */
    public List<Tensor> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** The direct sub-layers by name. */
    public Map<String, Module> namedChildren() { return Collections.unmodifiableMap(children); }

    /** Total number of parameter elements. */
    public long numParameters() {
        long n = 0;
        for (Tensor t : parameters()) n += t.numel();
        return n;
    }

    // ------------------------------------------------------------------ modes and gradients

    /** Sets training mode on the whole tree. Returns this. */
    public Module train(boolean on) {
        training = on;
        for (Module m : children.values()) m.train(on);
        return this;
    }

    /** Training mode on the whole tree. */
    public Module train() { return train(true); }

    /** Evaluation mode on the whole tree. */
    public Module eval() { return train(false); }

    /** True in training mode. */
    public boolean isTraining() { return training; }

    /** Clears the gradient of every parameter (sets it to null, as {@code zero_grad(set_to_none=True)}). */
    public void zeroGrad() {
        for (Tensor t : parameters()) t.setGrad(null);
    }

    // ------------------------------------------------------------------ devices

    /**
     * Moves every parameter and buffer of the tree to {@code device} in place, as
     * {@code torch.nn.Module.to}: each tensor object stays the same (so optimizers and layers that hold
     * it keep working) and gets a copy of its data on the device ({@link Tensor#replaceData}); its
     * gradient, if any, moves too. Tensors already there are left alone, and a tensor registered in
     * several places moves once. Returns this.
     *
     * @throws IllegalStateException naming CUDA's reason when {@code device} is a CUDA device and CUDA is unavailable
     */
    public Module to(Device device) {
        List<Module> tree = new ArrayList<>();
        collectModules(tree, Collections.newSetFromMap(new java.util.IdentityHashMap<>()));
        // copy everything first, rebind after: a copy that fails (device memory) leaves the module untouched
        Map<Tensor, Tensor[]> copies = new java.util.IdentityHashMap<>();
        for (Module m : tree) {
            for (Tensor t : m.parameters.values()) copies.computeIfAbsent(t, u -> copyTo(u, device));
            for (Tensor t : m.buffers.values()) copies.computeIfAbsent(t, u -> copyTo(u, device));
        }
        for (Map.Entry<Tensor, Tensor[]> e : copies.entrySet()) {
            Tensor[] c = e.getValue();
            if (c == null) continue;
            e.getKey().replaceData(c[0]);
            if (c[1] != null) e.getKey().setGrad(c[1]);
        }
        return this;
    }

    private void collectModules(List<Module> out, Set<Module> seen) {
        if (!seen.add(this)) return;
        out.add(this);
        for (Module m : children.values()) m.collectModules(out, seen);
    }

    /** {data, gradient or null} of leaf {@code t} copied to {@code device}, or null when it is there. */
    private static Tensor[] copyTo(Tensor t, Device device) {
        if (t.device().equals(device)) return null;
        Tensor grad = t.grad();
        return new Tensor[] {t.detach().to(device), grad == null ? null : grad.to(device)};
    }

    // ------------------------------------------------------------------ state

    /** Parameters then buffers by full name (the tensors themselves, detached). */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : namedParameters().entrySet()) out.put(e.getKey(), e.getValue().detach());
        for (Map.Entry<String, Tensor> e : namedBuffers().entrySet()) out.put(e.getKey(), e.getValue().detach());
        return out;
    }

    /**
     * Copies values into the parameters and buffers of the same names (converted to their dtypes).
     *
     * @param state  name to tensor
     * @param strict when true, every name of the module must be present and no other name may be
     * @throws IllegalArgumentException naming the missing or unexpected names, or a tensor whose
     *         shape differs; nothing is copied then
     */
    public void loadStateDict(Map<String, Tensor> state, boolean strict) {
        Map<String, Tensor> own = new LinkedHashMap<>(namedParameters());
        own.putAll(namedBuffers());
        if (strict) {
            Set<String> missing = new LinkedHashSet<>(own.keySet());
            missing.removeAll(state.keySet());
            Set<String> unexpected = new LinkedHashSet<>(state.keySet());
            unexpected.removeAll(own.keySet());
            if (!missing.isEmpty() || !unexpected.isEmpty()) {
                throw new IllegalArgumentException("state dict does not match " + getClass().getSimpleName() + ": missing " + missing
                        + ", unexpected " + unexpected);
            }
        }
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            Tensor target = own.get(e.getKey());
            if (target != null && !Arrays.equals(target.shape(), e.getValue().shape())) {
                throw new IllegalArgumentException("state dict entry '" + e.getKey() + "' has shape " + Shape.str(e.getValue().shape())
                        + ", the module expects " + Shape.str(target.shape()));
            }
        }
        try (NoGrad scope = NoGrad.enter()) {
            for (Map.Entry<String, Tensor> e : state.entrySet()) {
                Tensor target = own.get(e.getKey());
                if (target != null) target.copyFrom(e.getValue());
            }
        }
    }

    /** Writes {@link #stateDict()} to a safetensors file. */
    public void save(Path path) throws IOException {
        Map<String, Tensor> state = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : stateDict().entrySet()) state.put(e.getKey(), e.getValue().contiguous());
        SafetensorsWriter.save(path, state);
    }

    /** Reads a safetensors file into the module ({@link #loadStateDict} with the given strictness). */
    public void load(Path path, boolean strict) throws IOException {
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            Map<String, Tensor> state = new LinkedHashMap<>();
            for (String name : file.names()) state.put(name, file.tensor(name));
            loadStateDict(state, strict);
        }
    }

    // ------------------------------------------------------------------ printing

    /** A short description of this layer alone (sizes), used by {@link #toString()}. */
    protected String describe() { return ""; }

    /** The tree, one layer per line, as PyTorch prints modules. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        print(sb, "");
        return sb.toString();
    }

    private void print(StringBuilder sb, String indent) {
        sb.append(getClass().getSimpleName()).append('(').append(describe());
        if (children.isEmpty()) {
            sb.append(')');
            return;
        }
        sb.append('\n');
        for (Map.Entry<String, Module> e : children.entrySet()) {
            sb.append(indent).append("  (").append(e.getKey()).append("): ");
            e.getValue().print(sb, indent + "  ");
            sb.append('\n');
        }
        sb.append(indent).append(')');
    }
}
