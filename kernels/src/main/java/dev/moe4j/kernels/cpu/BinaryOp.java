package dev.moe4j.kernels.cpu;

/**
 * Elementwise binary operations {@code out = op(a, b)} and their exact scalar meaning.
 *
 * <p>The {@code apply} methods are the specification every kernel follows, per element type:
 * <ul>
 *   <li>{@code double} and {@code float}: IEEE arithmetic in that precision ({@link #POW} as
 *       {@link Math#pow}); {@link #MAXIMUM} and {@link #MINIMUM} propagate NaN (as
 *       {@link Math#max} / {@link Math#min} and as PyTorch's {@code maximum} / {@code minimum}).</li>
 *   <li>{@code long}: two's-complement arithmetic that wraps on overflow; {@link #POW} by repeated
 *       squaring (exponent must be {@code >= 0}); {@link #DIV} is not an integer operation (PyTorch's
 *       true division promotes integers to floating point), so it is rejected.</li>
 * </ul>
 */
public enum BinaryOp {
    /** a + b. */
    ADD,
    /** a - b. */
    SUB,
    /** a * b. */
    MUL,
    /** a / b (true division). */
    DIV,
    /** a raised to the power b. */
    POW,
    /** max(a, b); NaN if either is NaN. */
    MAXIMUM,
    /** min(a, b); NaN if either is NaN. */
    MINIMUM;

    /** The operation on doubles. */
    public double apply(double a, double b) {
        return switch (this) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
            case MAXIMUM -> Math.max(a, b);
            case MINIMUM -> Math.min(a, b);
        };
    }

    /** The operation on floats; {@link #POW} is evaluated in double and rounded once. */
    public float apply(float a, float b) {
        return switch (this) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> (float) Math.pow(a, b);
            case MAXIMUM -> Math.max(a, b);
            case MINIMUM -> Math.min(a, b);
        };
    }

    /**
     * The operation on 64-bit integers (wrapping).
     *
     * @throws IllegalArgumentException for {@link #DIV}, or for {@link #POW} with a negative exponent
     */
    public long apply(long a, long b) {
        return switch (this) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> throw new IllegalArgumentException("DIV is true division and is computed in floating point, not on integers");
            case POW -> integerPower(a, b);
            case MAXIMUM -> Math.max(a, b);
            case MINIMUM -> Math.min(a, b);
        };
    }

    /** a^e for e >= 0 by binary exponentiation, wrapping on overflow (0^0 = 1). */
    static long integerPower(long a, long e) {
        if (e < 0) throw new IllegalArgumentException("integers to negative integer powers are not allowed: " + a + "^" + e);
        long result = 1, base = a;
        while (e != 0) {
            if ((e & 1) != 0) result *= base;
            base *= base;
            e >>>= 1;
        }
        return result;
    }
}
