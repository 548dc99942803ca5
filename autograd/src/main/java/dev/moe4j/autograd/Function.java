package dev.moe4j.autograd;

import dev.moe4j.tensor.Tensor;

/**
 * A differentiable operation: the forward computation and its derivative side by side.
 *
 * <p>Subclasses hold the op's non-tensor parameters (a dim, an epsilon) in final fields, compute the
 * output from the inputs in {@link #forward} and, given the gradient of the output, the gradients
 * of the inputs in {@link #backward}. Callers use {@link #apply}, which runs the forward with
 * recording off and, when an input requires a gradient and recording is on, attaches a graph node
 * to the output.
 *
 * <pre>{@code
 * final class Exp extends Function {
 *     protected Tensor forward(Context ctx, Tensor... in) { Tensor y = in[0].exp(); ctx.save(y); return y; }
 *     protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(ctx.saved(0))}; }
 * }
 * }</pre>
 *
 * Rules for implementations: the forward must not change its inputs; backward returns one entry per
 * input, of that input's shape, or null where {@link Context#needsInputGrad} is false (null always
 * means "no gradient"); neither may change the gradient it receives in place.
 */
public abstract class Function {

    /** Creates the op. */
    protected Function() {}

    /**
     * The forward computation. Runs with recording off, so it may use other differentiable ops.
     * {@link Context#needsInputGrad} is already set, so work that only backward needs can be skipped.
     *
     * @param ctx    where to save what backward needs
     * @param inputs the inputs, as given to {@link #apply}
     * @return the output
     */
    protected abstract Tensor forward(Context ctx, Tensor... inputs);

    /**
     * The gradients of the inputs.
     *
     * @param ctx        the context filled by the forward
     * @param gradOutput dL/d(output), of the output's shape
     * @return dL/d(input i) for each input, null for an input that needs none
     */
    protected abstract Tensor[] backward(Context ctx, Tensor gradOutput);

    /** A short name of the op, used in graph printing and error messages. */
    public String name() { return getClass().getSimpleName(); }

    /**
     * Runs the op and records it when an input requires a gradient and recording is on.
     *
     * @param inputs the inputs (entries may be null for optional ones)
     * @return the output; it requires a gradient exactly when the op was recorded
     * @throws IllegalArgumentException when the inputs live on different devices
     */
    public final Tensor apply(Tensor... inputs) {
        return Autograd.record(this, inputs);
    }
}
