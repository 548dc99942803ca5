package dev.moe4j.autograd.ops;

/**
 * {@code y = min(a, b)} elementwise with broadcasting.
 *
 * <p>Derivative: 1 towards the smaller operand, 0 towards the other, 1/2 to each on ties:
 * {@code ga = sumTo(g * ([a < b] + [a == b] / 2))}, {@code gb = sumTo(g * ([b < a] + [a == b] / 2))}.
 */
public final class Minimum extends Extremum {
    /** Creates the op. */
    public Minimum() { super(true); }
}
