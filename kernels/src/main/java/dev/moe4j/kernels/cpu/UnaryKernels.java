package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementwise unary kernels: {@code out = op(x)} for the operations of {@link UnaryOp}.
 *
 * <pre>
 *   row form:  x[xOff + i*xStride]  (i &lt; n)   -&gt;  out[outOff + i]             (out dense)
 *   n-d form:  x viewed as shape [d0..dk-1] with xStrides  -&gt;  out dense row-major [d0..dk-1]
 * </pre>
 *
 * <p>Algorithm: the n-d form merges dims into the longest rows it can ({@link RowLoop}) and runs the
 * row form on each row. The row form's Vector API path needs a unit-stride row; a stride-0 row (a
 * broadcast scalar) is one scalar evaluation and a fill; any other stride runs the scalar reference.
 * Transcendentals use the Vector API's {@code EXP}, {@code LOG}, {@code TANH} lanes (within about
 * one ulp of {@link Math}). GELU on double lanes evaluates {@link Erf#erfc(DoubleVector)}, accurate to
 * the last bits; on float lanes it uses the float-precision {@link FloatErf#gelu(FloatVector)} (within a
 * few float ulps of the reference, which evaluates in double and rounds once), with the row's last
 * {@code n % lanes} elements in one masked vector step so that every element goes through the same lanes.
 *
 * <p>Supported arrays: {@code float[]}, {@code double[]}, and {@code long[]} for the integral ops
 * ({@link UnaryOp#isIntegral()}); {@code x} and {@code out} have the same type.
 */
public final class UnaryKernels {
    private UnaryKernels() {}

    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;

    // =================================================================== scalar reference

    /** out[outOff + i] = op(x[xOff + i*xStride]) for i &lt; n. */
    public static void applyReference(UnaryOp op, float[] x, int xOff, int xStride, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = op.apply(x[xOff + i * xStride]);
    }

    /** out[outOff + i] = op(x[xOff + i*xStride]) for i &lt; n. */
    public static void applyReference(UnaryOp op, double[] x, int xOff, int xStride, double[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = op.apply(x[xOff + i * xStride]);
    }

    /**
     * out[outOff + i] = op(x[xOff + i*xStride]) for i &lt; n, on integers.
     *
     * @throws IllegalArgumentException when {@code op} is not integral
     */
    public static void applyReference(UnaryOp op, long[] x, int xOff, int xStride, long[] out, int outOff, int n) {
        requireIntegral(op);
        for (int i = 0; i < n; i++) out[outOff + i] = op.apply(x[xOff + i * xStride]);
    }

    /**
     * n-d scalar reference: {@code out} (dense, row-major over {@code shape}, from {@code outOff}) =
     * op(x viewed with {@code xStrides} from {@code xOff}).
     */
    public static void applyReference(UnaryOp op, Object x, int xOff, int[] xStrides, Object out, int outOff, int[] shape) {
        walk(op, x, xOff, xStrides, out, outOff, shape, true);
    }

    // =================================================================== Vector API version

    /** n-d form of {@link #apply(UnaryOp, float[], int, int, float[], int, int)}; arrays as in {@link #applyReference(UnaryOp, Object, int, int[], Object, int, int[])}. */
    public static void apply(UnaryOp op, Object x, int xOff, int[] xStrides, Object out, int outOff, int[] shape) {
        walk(op, x, xOff, xStrides, out, outOff, shape, false);
    }

    private static void walk(UnaryOp op, Object x, int xOff, int[] xStrides, Object out, int outOff, int[] shape, boolean reference) {
        if (x.getClass() != out.getClass()) {
            throw new IllegalArgumentException("x is " + x.getClass().getSimpleName() + " but out is " + out.getClass().getSimpleName());
        }
        if (x instanceof long[]) requireIntegral(op);
        RowLoop loop = new RowLoop(shape, new int[] {xOff, outOff}, xStrides, RowLoop.contiguousStrides(shape));
        int n = loop.rowLength();
        for (long r = 0; r < loop.rows(); r++, loop.next()) {
            int xo = loop.offset(0), xs = loop.innerStride(0), oo = loop.offset(1);
            switch (x) {
                case float[] a -> { if (reference) applyReference(op, a, xo, xs, (float[]) out, oo, n); else apply(op, a, xo, xs, (float[]) out, oo, n); }
                case double[] a -> { if (reference) applyReference(op, a, xo, xs, (double[]) out, oo, n); else apply(op, a, xo, xs, (double[]) out, oo, n); }
                case long[] a -> applyReference(op, a, xo, xs, (long[]) out, oo, n);
                default -> throw new IllegalArgumentException("unary kernels take float[], double[] or long[], not " + x.getClass().getSimpleName());
            }
        }
    }

    private static void requireIntegral(UnaryOp op) {
        if (!op.isIntegral()) throw new IllegalArgumentException(op + " is a floating-point operation; it has no integer kernel");
    }

    /** Vector API row kernel: out[outOff + i] = op(x[xOff + i*xStride]) for i &lt; n. */
    public static void apply(UnaryOp op, float[] x, int xOff, int xStride, float[] out, int outOff, int n) {
        if (xStride != 1) {
            if (xStride == 0 && n > 0) java.util.Arrays.fill(out, outOff, outOff + n, op.apply(x[xOff]));
            else applyReference(op, x, xOff, xStride, out, outOff, n);
            return;
        }
        int i = 0;
        int step = FS.length();
        int bound = FS.loopBound(n);
        switch (op) {
            case NEG -> { for (; i < bound; i += step) FloatVector.fromArray(FS, x, xOff + i).neg().intoArray(out, outOff + i); }
            case ABS -> { for (; i < bound; i += step) FloatVector.fromArray(FS, x, xOff + i).abs().intoArray(out, outOff + i); }
            case EXP -> { for (; i < bound; i += step) FloatVector.fromArray(FS, x, xOff + i).lanewise(VectorOperators.EXP).intoArray(out, outOff + i); }
            case LOG -> { for (; i < bound; i += step) FloatVector.fromArray(FS, x, xOff + i).lanewise(VectorOperators.LOG).intoArray(out, outOff + i); }
            case SQRT -> { for (; i < bound; i += step) FloatVector.fromArray(FS, x, xOff + i).sqrt().intoArray(out, outOff + i); }
            case RSQRT -> { for (; i < bound; i += step) FloatVector.broadcast(FS, 1f).div(FloatVector.fromArray(FS, x, xOff + i).sqrt()).intoArray(out, outOff + i); }
            case RELU -> { for (; i < bound; i += step) FloatVector.fromArray(FS, x, xOff + i).max(0f).intoArray(out, outOff + i); }
            case GELU -> {                                        // own method: see FloatErf#gelu(float[], int, float[], int, int)
                FloatErf.gelu(x, xOff, out, outOff, n);
                i = n;
            }
            case GELU_TANH -> { for (; i < bound; i += step) geluTanh(FloatVector.fromArray(FS, x, xOff + i)).intoArray(out, outOff + i); }
            case SILU -> { for (; i < bound; i += step) { FloatVector v = FloatVector.fromArray(FS, x, xOff + i); v.div(sigmoidDenominator(v)).intoArray(out, outOff + i); } }
            case SIGMOID -> { for (; i < bound; i += step) FloatVector.broadcast(FS, 1f).div(sigmoidDenominator(FloatVector.fromArray(FS, x, xOff + i))).intoArray(out, outOff + i); }
            case TANH -> { for (; i < bound; i += step) FloatVector.fromArray(FS, x, xOff + i).lanewise(VectorOperators.TANH).intoArray(out, outOff + i); }
        }
        applyReference(op, x, xOff + i, 1, out, outOff + i, n - i);
    }

    /** Vector API row kernel: out[outOff + i] = op(x[xOff + i*xStride]) for i &lt; n. */
    public static void apply(UnaryOp op, double[] x, int xOff, int xStride, double[] out, int outOff, int n) {
        if (xStride != 1) {
            if (xStride == 0 && n > 0) java.util.Arrays.fill(out, outOff, outOff + n, op.apply(x[xOff]));
            else applyReference(op, x, xOff, xStride, out, outOff, n);
            return;
        }
        int i = 0;
        int step = DS.length();
        int bound = DS.loopBound(n);
        switch (op) {
            case NEG -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, x, xOff + i).neg().intoArray(out, outOff + i); }
            case ABS -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, x, xOff + i).abs().intoArray(out, outOff + i); }
            case EXP -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, x, xOff + i).lanewise(VectorOperators.EXP).intoArray(out, outOff + i); }
            case LOG -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, x, xOff + i).lanewise(VectorOperators.LOG).intoArray(out, outOff + i); }
            case SQRT -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, x, xOff + i).sqrt().intoArray(out, outOff + i); }
            case RSQRT -> { for (; i < bound; i += step) DoubleVector.broadcast(DS, 1.0).div(DoubleVector.fromArray(DS, x, xOff + i).sqrt()).intoArray(out, outOff + i); }
            case RELU -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, x, xOff + i).max(0.0).intoArray(out, outOff + i); }
            case GELU -> { for (; i < bound; i += step) gelu(DoubleVector.fromArray(DS, x, xOff + i)).intoArray(out, outOff + i); }
            case GELU_TANH -> { for (; i < bound; i += step) geluTanh(DoubleVector.fromArray(DS, x, xOff + i)).intoArray(out, outOff + i); }
            case SILU -> { for (; i < bound; i += step) { DoubleVector v = DoubleVector.fromArray(DS, x, xOff + i); v.div(sigmoidDenominator(v)).intoArray(out, outOff + i); } }
            case SIGMOID -> { for (; i < bound; i += step) DoubleVector.broadcast(DS, 1.0).div(sigmoidDenominator(DoubleVector.fromArray(DS, x, xOff + i))).intoArray(out, outOff + i); }
            case TANH -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, x, xOff + i).lanewise(VectorOperators.TANH).intoArray(out, outOff + i); }
        }
        applyReference(op, x, xOff + i, 1, out, outOff + i, n - i);
    }

    /** Integer row kernel (scalar: there is no integer Vector API path for these ops). */
    public static void apply(UnaryOp op, long[] x, int xOff, int xStride, long[] out, int outOff, int n) {
        applyReference(op, x, xOff, xStride, out, outOff, n);
    }

    // ------------------------------------------------------------------ lane functions

    /** 1 + e^-x. */
    private static FloatVector sigmoidDenominator(FloatVector x) {
        return x.neg().lanewise(VectorOperators.EXP).add(1f);
    }

    private static DoubleVector sigmoidDenominator(DoubleVector x) {
        return x.neg().lanewise(VectorOperators.EXP).add(1.0);
    }

    /** x/2 &middot; erfc(-x/&radic;2). */
    private static DoubleVector gelu(DoubleVector x) {
        return x.mul(0.5).mul(Erf.erfc(x.neg().mul(UnaryOp.SQRT1_2)));
    }

    /**
     * x / (1 + e^(-2y)), y = &radic;(2/&pi;)(x + 0.044715 x&sup3;): the tanh form rewritten as a sigmoid.
     * Float lanes round the exponent's argument in float, so the relative error of the tail grows
     * like |2y| &middot; 2^-24 (as in any float implementation).
     */
    private static FloatVector geluTanh(FloatVector x) {
        FloatVector inner = x.mul((float) UnaryOp.GELU_TANH_CUBIC).mul(x).mul(x).add(x);
        return x.div(inner.mul((float) (-2.0 * UnaryOp.SQRT_2_OVER_PI)).lanewise(VectorOperators.EXP).add(1f));
    }

    /** Same operations in the same order as {@link UnaryOp#apply(double)}. */
    private static DoubleVector geluTanh(DoubleVector x) {
        DoubleVector inner = x.mul(UnaryOp.GELU_TANH_CUBIC).mul(x).mul(x).add(x);
        return x.div(inner.mul(-2.0 * UnaryOp.SQRT_2_OVER_PI).lanewise(VectorOperators.EXP).add(1.0));
    }
}
