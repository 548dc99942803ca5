package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.Tensor;

import java.util.function.UnaryOperator;

/** A parameter-free elementwise activation as a layer, for use in {@link Sequential}. */
public final class Activation extends Module {
    private final String name;
    private final UnaryOperator<Tensor> fn;

    private Activation(String name, UnaryOperator<Tensor> fn) {
        this.name = name;
        this.fn = fn;
    }

    /** max(x, 0). */
    public static Activation relu() { return new Activation("relu", F::relu); }
    /** GELU (erf form). */
    public static Activation gelu() { return new Activation("gelu", F::gelu); }
    /** x * sigmoid(x). */
    public static Activation silu() { return new Activation("silu", F::silu); }
    /** tanh. */
    public static Activation tanh() { return new Activation("tanh", F::tanh); }

    @Override
    public Tensor forward(Tensor x) { return fn.apply(x); }

    @Override
    protected String describe() { return name; }
}
