package dev.moe4j.autograd.optim;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Updates parameters from their gradients. {@link #step()} reads {@link Tensor#grad()} of each
 * parameter (parameters without a gradient are skipped) and changes the parameter in place, with
 * recording off; {@link #zeroGrad()} clears the gradients.
 */
public abstract class Optimizer {
    /** The parameters, each once. */
    protected final List<Tensor> params;
    /** The current learning rate. */
    protected double lr;
    private int steps;

    /**
     * @param params the parameters (leaves that require gradients); duplicates are dropped
     * @param lr     learning rate, &gt;= 0
     */
    protected Optimizer(List<Tensor> params, double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Tensor> list = new ArrayList<>();
        for (Tensor p : params) {
            if (!p.requiresGrad() || !p.isLeaf()) {
                throw new IllegalArgumentException("an optimizer updates leaf tensors that require gradients; got one of shape "
                        + java.util.Arrays.toString(p.shape()) + (p.isLeaf() ? " without requiresGrad" : " computed by " + p.gradFn().name()));
            }
            if (seen.add(p)) list.add(p);
        }
        this.params = Collections.unmodifiableList(list);
        this.lr = lr;
    }

    /** The parameters. */
    public List<Tensor> params() { return params; }

    /** The learning rate. */
    public double lr() { return lr; }

    /** Sets the learning rate (for schedules). */
    public void setLr(double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        this.lr = lr;
    }

    /** Number of steps taken. */
    public int steps() { return steps; }

    /** One update of every parameter that has a gradient. */
    public final void step() {
        steps++;
        try (NoGrad scope = NoGrad.enter()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                Tensor g = p.grad();
                if (g == null) continue;
                update(i, p, g, steps);
            }
        }
    }

    /**
     * Updates parameter {@code p} in place.
     *
     * @param index its position in {@link #params}, for per-parameter state
     * @param p     the parameter
     * @param g     its gradient (do not change it)
     * @param t     the step number, from 1
     */
    protected abstract void update(int index, Tensor p, Tensor g, int t);

    /** Clears every parameter's gradient (sets it to null). */
    public void zeroGrad() {
        for (Tensor p : params) p.setGrad(null);
    }
}
