package dev.moe4j.autograd.nn;

import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Layers applied one after another; sub-layers are named "0", "1", ... as in {@code torch.nn.Sequential}. */
public final class Sequential extends Module {
    private final List<Module> layers = new ArrayList<>();

    /** The given layers, in order. */
    public Sequential(Module... layers) {
        for (Module m : layers) add(m);
    }

    /** Appends a layer. Returns this. */
    public Sequential add(Module m) {
        registerModule(Integer.toString(layers.size()), m);
        layers.add(m);
        return this;
    }

    /** The layers, in order. */
    public List<Module> layers() { return Collections.unmodifiableList(layers); }

    @Override
    public Tensor forward(Tensor x) {
        for (Module m : layers) x = m.forward(x);
        return x;
    }
}
