package dev.moe4j.lora;

import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Named sub-layers held together, as {@code torch.nn.ModuleDict}: the members' parameters appear
 * under {@code <dict>.<key>.<parameter>} (PEFT's {@code lora_A.default.weight}). A dictionary has no
 * computation of its own; its members are called directly.
 */
public final class ModuleDict extends Module {
    private final Map<String, Module> members = new LinkedHashMap<>();

    /** An empty dictionary. */
    public ModuleDict() {}

    /**
     * Adds {@code module} under {@code key}.
     *
     * @throws IllegalArgumentException for a key that is empty, contains a dot or is already used
     */
    public <M extends Module> M put(String key, M module) {
        registerModule(key, module);
        members.put(key, module);
        return module;
    }

    /** The member under {@code key}, or null. */
    public Module get(String key) { return members.get(key); }

    /** True when {@code key} is used. */
    public boolean containsKey(String key) { return members.containsKey(key); }

    /** The members in insertion order (read-only). */
    public Map<String, Module> members() { return Collections.unmodifiableMap(members); }

    /**
     * A dictionary is not callable.
     *
     * @throws IllegalStateException always: call a member instead
     */
    @Override
    public Tensor forward(Tensor input) {
        throw new IllegalStateException("a ModuleDict has no forward of its own; call one of its members " + members.keySet());
    }

    @Override
    protected String describe() { return "keys=" + members.keySet(); }
}
