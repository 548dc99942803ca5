package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Inverted dropout with probability p in training mode; the identity in evaluation mode.
 */
public final class Dropout extends Module {
    private final double p;
    private final Generator gen;

    /**
     * @param p   drop probability in [0, 1]
     * @param gen source of the masks
     */
    public Dropout(double p, Generator gen) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout probability must lie in [0, 1], got " + p);
        this.p = p;
        this.gen = gen;
    }

    @Override
    public Tensor forward(Tensor x) { return F.dropout(x, p, isTraining(), gen); }

    @Override
    protected String describe() { return "p=" + p; }
}
