package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The DoRA magnitude vector m [out] of one adapter, held as parameter {@code weight} so that its
 * full name is PEFT's {@code lora_magnitude_vector.<adapter>.weight}. Its forward scales the last dim
 * of x [..., out] by m; {@link LoraLinear} uses m inside the DoRA formula.
 */
public final class DoraMagnitude extends Module {
    private final Tensor weight;

    /**
     * @param initial m [out]; becomes the parameter (a leaf that requires a gradient)
     * @throws IllegalArgumentException when it is not 1-D
     */
    public DoraMagnitude(Tensor initial) {
        if (initial.rank() != 1) throw new IllegalArgumentException("a DoRA magnitude is a vector [out], got " + Shape.str(initial.shape()));
        this.weight = registerParameter("weight", initial);
    }

    /** m [out]. */
    public Tensor weight() { return weight; }

    /** {@code x * m}, m broadcast over the leading dims of x [..., out]. */
    @Override
    public Tensor forward(Tensor x) { return F.mul(x, weight); }

    @Override
    protected String describe() { return "out=" + weight.size(0); }
}
