package dev.moe4j.autograd.ops;

import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * The adjoint of broadcasting: a gradient computed for a broadcast result is summed back to the
 * shape of the operand that was stretched.
 */
final class Broadcasting {
    private Broadcasting() {}

    /**
     * Sums {@code g} over the leading dims it has beyond {@code shape} and over the dims where
     * {@code shape} has size 1 and g does not. Returns g itself when the shapes already agree.
     *
     * @throws IllegalStateException when shape does not broadcast to g's shape
     */
    static Tensor sumTo(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) return g;
        int lead = gs.length - shape.length;
        if (lead < 0) throw new IllegalStateException("cannot sum a gradient of shape " + Shape.str(gs) + " to " + Shape.str(shape));
        int[] dims = new int[gs.length];
        int n = 0;
        for (int i = 0; i < gs.length; i++) {
            if (i < lead) dims[n++] = i;
            else if (shape[i - lead] == 1 && gs[i] != 1) dims[n++] = i;
            else if (shape[i - lead] != gs[i]) {
                throw new IllegalStateException("cannot sum a gradient of shape " + Shape.str(gs) + " to " + Shape.str(shape));
            }
        }
        Tensor r = n == 0 ? g : g.sum(Arrays.copyOf(dims, n), true);
        return r.reshape(shape);
    }

    /** The shape with dim {@code d} kept as size 1 (for re-expanding a reduced gradient). */
    static int[] keepDimShape(int[] shape, int[] dims) {
        int[] out = shape.clone();
        if (dims == null) {
            Arrays.fill(out, 1);
            return out;
        }
        for (int d : dims) out[Shape.dim(d, shape.length)] = 1;
        return out;
    }
}
