package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * A contiguous copy when x is not contiguous ({@code contiguous}), or always ({@code clone}).
 *
 * <p>Derivative: the identity, {@code gx = g}.
 */
public final class Contiguous extends Function {
    private final boolean alwaysCopy;

    /** @param alwaysCopy copy even a contiguous tensor (clone) */
    public Contiguous(boolean alwaysCopy) { this.alwaysCopy = alwaysCopy; }

    @Override
    public String name() { return alwaysCopy ? "Clone" : "Contiguous"; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return alwaysCopy ? in[0].copy() : in[0].contiguous(); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g}; }
}
