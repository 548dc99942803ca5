package dev.moe4j.kernels.cpu;

/**
 * Elementwise comparisons {@code out = (a op b)}, giving a boolean stored as a byte 0 or 1.
 *
 * <p>IEEE semantics: every comparison with a NaN is false except {@link #NE}, which is true.
 */
public enum CompareOp {
    /** a == b. */
    EQ,
    /** a != b. */
    NE,
    /** a &lt; b. */
    LT,
    /** a &lt;= b. */
    LE,
    /** a &gt; b. */
    GT,
    /** a &gt;= b. */
    GE;

    /** The comparison on doubles (floats compare identically after widening). */
    public boolean test(double a, double b) {
        return switch (this) {
            case EQ -> a == b;
            case NE -> a != b;
            case LT -> a < b;
            case LE -> a <= b;
            case GT -> a > b;
            case GE -> a >= b;
        };
    }

    /** The comparison on 64-bit integers. */
    public boolean test(long a, long b) {
        return switch (this) {
            case EQ -> a == b;
            case NE -> a != b;
            case LT -> a < b;
            case LE -> a <= b;
            case GT -> a > b;
            case GE -> a >= b;
        };
    }
}
