package dev.moe4j.kernels.cpu;

/**
 * Elementwise unary operations and their exact scalar meaning (the specification for every kernel).
 *
 * <table>
 *   <caption>definitions</caption>
 *   <tr><td>{@link #NEG}</td><td>-x</td></tr>
 *   <tr><td>{@link #ABS}</td><td>|x|</td></tr>
 *   <tr><td>{@link #EXP}, {@link #LOG}, {@link #SQRT}, {@link #TANH}</td><td>as {@link Math}</td></tr>
 *   <tr><td>{@link #RSQRT}</td><td>1 / sqrt(x)</td></tr>
 *   <tr><td>{@link #RELU}</td><td>max(x, 0) (NaN stays NaN)</td></tr>
 *   <tr><td>{@link #GELU}</td><td>x &middot; &Phi;(x) = x/2 &middot; erfc(-x/&radic;2) (Hendrycks &amp; Gimpel 2016, exact form)</td></tr>
 *   <tr><td>{@link #GELU_TANH}</td><td>x/2 &middot; (1 + tanh(y)), y = &radic;(2/&pi;) (x + 0.044715 x&sup3;) (the tanh approximation),
 *       evaluated as the equal x / (1 + e<sup>-2y</sup>), which does not cancel for negative x</td></tr>
 *   <tr><td>{@link #SIGMOID}</td><td>1 / (1 + e<sup>-x</sup>)</td></tr>
 *   <tr><td>{@link #SILU}</td><td>x &middot; sigmoid(x) = x / (1 + e<sup>-x</sup>) (Elfwing et al. 2017; "swish")</td></tr>
 * </table>
 *
 * <p>{@link #GELU} is written with erfc rather than PyTorch's {@code 1 + erf(x/√2)}: the two are equal,
 * but erfc keeps full relative accuracy in the left tail, where {@code 1 + erf} cancels.
 * The float versions evaluate in double and round once.
 */
public enum UnaryOp {
    /** -x. */
    NEG,
    /** |x|. */
    ABS,
    /** e^x. */
    EXP,
    /** Natural logarithm. */
    LOG,
    /** Square root. */
    SQRT,
    /** 1 / sqrt(x). */
    RSQRT,
    /** max(x, 0). */
    RELU,
    /** x &middot; &Phi;(x) with the exact normal CDF. */
    GELU,
    /** GELU with the tanh approximation of &Phi;. */
    GELU_TANH,
    /** x &middot; sigmoid(x). */
    SILU,
    /** 1 / (1 + e^-x). */
    SIGMOID,
    /** Hyperbolic tangent. */
    TANH;

    /** 1/&radic;2. */
    static final double SQRT1_2 = 0.7071067811865476;
    /** &radic;(2/&pi;), the slope of the tanh approximation. */
    static final double SQRT_2_OVER_PI = 0.7978845608028654;
    /** The cubic coefficient of the tanh approximation. */
    static final double GELU_TANH_CUBIC = 0.044715;

    /** True for the operations defined on integers (they keep the integer type). */
    public boolean isIntegral() { return this == NEG || this == ABS || this == RELU; }

    /** The operation on doubles. */
    public double apply(double x) {
        return switch (this) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1.0 / Math.sqrt(x);
            case RELU -> Math.max(x, 0.0);
            case GELU -> 0.5 * x * Erf.erfc(-x * SQRT1_2);
            case GELU_TANH -> x / (1.0 + Math.exp((x + GELU_TANH_CUBIC * x * x * x) * (-2.0 * SQRT_2_OVER_PI)));
            case SILU -> x / (1.0 + Math.exp(-x));
            case SIGMOID -> 1.0 / (1.0 + Math.exp(-x));
            case TANH -> Math.tanh(x);
        };
    }

    /** The operation on floats: NEG, ABS, SQRT, RSQRT, RELU in float arithmetic, the others evaluated in double and rounded once. */
    public float apply(float x) {
        return switch (this) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case SQRT -> (float) Math.sqrt(x);
            case RSQRT -> 1f / (float) Math.sqrt(x);
            case RELU -> Math.max(x, 0f);
            default -> (float) apply((double) x);
        };
    }

    /**
     * The operation on 64-bit integers: only {@link #NEG}, {@link #ABS} and {@link #RELU}.
     *
     * @throws IllegalArgumentException for the floating-point operations
     */
    public long apply(long x) {
        return switch (this) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case RELU -> Math.max(x, 0L);
            default -> throw new IllegalArgumentException(this + " is a floating-point operation; integer inputs are promoted to F32 first");
        };
    }
}
