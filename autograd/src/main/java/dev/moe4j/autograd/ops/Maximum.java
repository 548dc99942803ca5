package dev.moe4j.autograd.ops;

/**
 * {@code y = max(a, b)} elementwise with broadcasting.
 *
 * <p>Derivative: 1 towards the larger operand, 0 towards the other, 1/2 to each on ties:
 * {@code ga = sumTo(g * ([a > b] + [a == b] / 2))}, {@code gb = sumTo(g * ([b > a] + [a == b] / 2))}.
 */
public final class Maximum extends Extremum {
    /** Creates the op. */
    public Maximum() { super(false); }
}
