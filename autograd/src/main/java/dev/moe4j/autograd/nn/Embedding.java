package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Lookup table: integer indices [...] &rarr; rows of {@code weight} [V, d], giving [..., d].
 * Initialisation as PyTorch: standard normal.
 */
public final class Embedding extends Module {
    private final Tensor weight;

    /**
     * @param numEmbeddings V, the number of rows
     * @param dim           d, the row size
     * @param dtype         parameter dtype
     * @param gen           source of the initial values
     */
    public Embedding(int numEmbeddings, int dim, DType dtype, Generator gen) {
        if (numEmbeddings <= 0 || dim <= 0) throw new IllegalArgumentException("Embedding sizes must be positive, got " + numEmbeddings + " x " + dim);
        this.weight = registerParameter("weight", Init.normal(gen, dtype, 1.0, numEmbeddings, dim));
    }

    /** The table [V, d]. */
    public Tensor weight() { return weight; }

    @Override
    public Tensor forward(Tensor indices) { return F.embedding(indices, weight); }

    @Override
    protected String describe() { return weight.size(0) + ", " + weight.size(1); }
}
