package dev.moe4j.lora;

import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.tensor.Tensor;

/**
 * One adapter on a {@link LoraLinear}: its settings and its parameters.
 *
 * <p>Shapes: {@code A} [r, in] ({@code lora_A.<name>.weight}), {@code B} [out, r]
 * ({@code lora_B.<name>.weight}), {@code magnitude} [out] for DoRA
 * ({@code lora_magnitude_vector.<name>.weight}), else null. The tensors are the parameters
 * themselves, not copies.
 */
public final class LoraAdapter {
    private final String name;
    private final AdapterSpec spec;
    private final Linear loraA, loraB;
    private final DoraMagnitude magnitude;

    LoraAdapter(String name, AdapterSpec spec, Linear loraA, Linear loraB, DoraMagnitude magnitude) {
        this.name = name;
        this.spec = spec;
        this.loraA = loraA;
        this.loraB = loraB;
        this.magnitude = magnitude;
    }

    /** The adapter's name. */
    public String name() { return name; }

    /** Rank, alpha, dropout, variant. */
    public AdapterSpec spec() { return spec; }

    /** Rank r. */
    public int r() { return spec.r(); }

    /** The scaling s (alpha / r, or alpha / sqrt(r) with rsLoRA). */
    public double scaling() { return spec.scaling(); }

    /** Whether this is a DoRA adapter. */
    public boolean isDora() { return spec.useDora(); }

    /** A [r, in]. */
    public Tensor a() { return loraA.weight(); }

    /** B [out, r]. */
    public Tensor b() { return loraB.weight(); }

    /** m [out] for DoRA, else null. */
    public Tensor magnitude() { return magnitude == null ? null : magnitude.weight(); }

    /** Sets requiresGrad on every parameter of the adapter. */
    void setTrainable(boolean on) {
        a().setRequiresGrad(on);
        b().setRequiresGrad(on);
        if (magnitude != null) magnitude().setRequiresGrad(on);
    }

    @Override
    public String toString() {
        return "LoraAdapter(" + name + ", r=" + spec.r() + ", alpha=" + spec.alpha() + ", scaling=" + scaling()
                + (spec.useRslora() ? ", rslora" : "") + (spec.useDora() ? ", dora" : "") + ")";
    }
}
