package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * The same elements in another shape ({@code reshape}, {@code view}, {@code flatten}): a view when
 * the layout allows, a copy otherwise. One dim of the new shape may be -1.
 *
 * <p>Derivative: the identity on the elements, so the gradient is reshaped back:
 * {@code gx = g.reshape(shape(x))}.
 */
public final class Reshape extends Function {
    private final int[] shape;
    private final boolean viewOnly;

    /**
     * @param shape    the new shape
     * @param viewOnly throw instead of copying when the layout cannot be viewed (as {@code view})
     */
    public Reshape(int[] shape, boolean viewOnly) {
        this.shape = shape.clone();
        this.viewOnly = viewOnly;
    }

    @Override
    public String name() { return viewOnly ? "View" : "Reshape"; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) { return viewOnly ? in[0].view(shape) : in[0].reshape(shape); }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.reshape(ctx.inputShape(0))}; }
}
