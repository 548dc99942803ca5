package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The float-precision erf, erfc and GELU lanes of {@link FloatErf} against the double-precision references
 * ({@link Erf}, {@link UnaryOp#GELU}), in float ulps of the reference value, over a dense sweep of float bit
 * patterns and the special values.
 */
class FloatErfTest {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    /** Stated accuracy: max |lane - reference| in ulps of the reference rounded to float. */
    static final double ERF_ULPS = 1.5, ERFC_ULPS = 5, GELU_ULPS = 5;

    private static final float[] SPECIAL = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f,
            Float.MIN_VALUE, -Float.MIN_VALUE, 3 * Float.MIN_VALUE, -7e-40f, Float.MIN_NORMAL, -Float.MIN_NORMAL,
            1e-30f, -1e-30f, 0.9f, -0.9f, Math.nextDown(0.9f), -Math.nextDown(0.9f), 10.5f, -10.5f, 14.5f, -14.5f,
            14.4f, -14.4f, 13.5f, -13.5f, 26f, -26f, 1e30f, -1e30f, Float.MAX_VALUE, -Float.MAX_VALUE};

    /** Every {@code stride}-th float bit pattern in [0, limit], with both signs (the sweep's inputs). */
    private static float[] sweep(float limit, int stride) {
        int top = Float.floatToIntBits(limit);
        int count = top / stride + 1;
        float[] x = new float[2 * count];
        for (int i = 0; i < count; i++) {
            x[2 * i] = Float.intBitsToFloat(i * stride);
            x[2 * i + 1] = -x[2 * i];
        }
        return x;
    }

    private static float[] lanes(UnaryOperator<FloatVector> f, float[] x) {
        float[] out = new float[x.length];
        int i = 0;
        for (; i < FS.loopBound(x.length); i += FS.length()) f.apply(FloatVector.fromArray(FS, x, i)).intoArray(out, i);
        if (i < x.length) {
            var tail = FS.indexInRange(i, x.length);
            f.apply(FloatVector.fromArray(FS, x, i, tail)).intoArray(out, i, tail);
        }
        return out;
    }

    /** |got - want| in ulps of want rounded to float (Float.MIN_VALUE for subnormals and zero); NaN iff mismatched NaN/inf. */
    static double ulpError(float got, double want) {
        if (Double.isNaN(want) || Double.isNaN(got)) return Double.isNaN(want) == Double.isNaN(got) ? 0 : Double.NaN;
        float w = (float) want;
        if (Float.isInfinite(w) || Float.isInfinite(got)) return got == w ? 0 : Double.NaN;
        return Math.abs(got - want) / Math.ulp(w);
    }

    /** The largest ulp error of {@code f} against {@code ref} on {@code x}, failing on a NaN/infinity mismatch. */
    private static double maxUlps(String what, UnaryOperator<FloatVector> f, DoubleUnaryOperator ref, float[] x) {
        float[] got = lanes(f, x);
        double worst = 0;
        float worstAt = 0;
        for (int i = 0; i < x.length; i++) {
            double want = ref.applyAsDouble(x[i]);
            double e = ulpError(got[i], want);
            assertThat(e).as("%s(%s): got %s, reference %s", what, x[i], got[i], want).isNotNaN();
            if (e > worst) {
                worst = e;
                worstAt = x[i];
            }
        }
        System.out.printf("%s: max %.3f ulps at x = %s over %d inputs%n", what, worst, worstAt, x.length);
        return worst;
    }

    private static double gelu(double x) {
        return UnaryOp.GELU.apply(x);
    }

    @Test
    void erfIsWithinOneAndAHalfUlpsOfTheDoubleReference() {
        assertThat(maxUlps("erf", FloatErf::erf, Erf::erf, sweep(10f, 97))).isLessThanOrEqualTo(ERF_ULPS);
        assertThat(maxUlps("erf special", FloatErf::erf, Erf::erf, SPECIAL)).isLessThanOrEqualTo(ERF_ULPS);
    }

    @Test
    void erfcKeepsRelativeAccuracyIntoTheTail() {
        assertThat(maxUlps("erfc", FloatErf::erfc, Erf::erfc, sweep(10f, 97))).isLessThanOrEqualTo(ERFC_ULPS);
        assertThat(maxUlps("erfc special", FloatErf::erfc, Erf::erfc, SPECIAL)).isLessThanOrEqualTo(ERFC_ULPS);
    }

    @Test
    void geluIsWithinFiveUlpsOfTheReference() {
        assertThat(maxUlps("gelu", FloatErf::gelu, FloatErfTest::gelu, sweep(16f, 389))).isLessThanOrEqualTo(GELU_ULPS);
        assertThat(maxUlps("gelu special", FloatErf::gelu, FloatErfTest::gelu, SPECIAL)).isLessThanOrEqualTo(GELU_ULPS);
    }

    @Test
    void specialValues() {
        float[] x = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE};
        float[] erf = lanes(FloatErf::erf, x), erfc = lanes(FloatErf::erfc, x), gelu = lanes(FloatErf::gelu, x);
        assertThat(erf[0]).isNaN();
        assertThat(erfc[0]).isNaN();
        assertThat(gelu[0]).isNaN();
        assertThat(erf[1]).isEqualTo(1f);
        assertThat(erf[2]).isEqualTo(-1f);
        assertThat(erfc[1]).isEqualTo(0f);
        assertThat(erfc[2]).isEqualTo(2f);
        assertThat(gelu[1]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(gelu[2]).as("-inf * Phi(-inf) = -inf * 0, as the reference").isNaN();
        assertThat(Float.floatToRawIntBits(erf[3])).isEqualTo(Float.floatToRawIntBits(0f));
        assertThat(Float.floatToRawIntBits(erf[4])).as("erf(-0) = -0").isEqualTo(Float.floatToRawIntBits(-0f));
        assertThat(erfc[3]).isEqualTo(1f);
        assertThat(erfc[4]).isEqualTo(1f);
        assertThat(Float.floatToRawIntBits(gelu[4])).as("gelu(-0) = -0").isEqualTo(Float.floatToRawIntBits(-0f));
        assertThat(erf[5]).isEqualTo((float) Erf.erf(Float.MIN_VALUE));
        assertThat(erf[6]).isEqualTo(-erf[5]);
        assertThat(gelu[5]).isEqualTo((float) gelu(Float.MIN_VALUE));
    }

    @Test
    void oddAndReflectionSymmetries() {
        Random rnd = new Random(7);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 4);
        float[] neg = new float[x.length];
        for (int i = 0; i < x.length; i++) neg[i] = -x[i];
        float[] erf = lanes(FloatErf::erf, x), erfNeg = lanes(FloatErf::erf, neg);
        float[] erfc = lanes(FloatErf::erfc, x), erfcNeg = lanes(FloatErf::erfc, neg);
        for (int i = 0; i < x.length; i++) {
            assertThat(erfNeg[i]).as("erf(-x) = -erf(x) at %s", x[i]).isEqualTo(-erf[i]);
            if (x[i] > 0) assertThat(erfcNeg[i]).as("erfc(-x) = 2 - erfc(x) at %s", x[i]).isEqualTo(2f - erfc[i]);
        }
    }

    /** Each lane is computed alone: a value gives the same bits in every lane position and whatever its neighbours. */
    @Test
    void lanesAreIndependentOfPosition() {
        Random rnd = new Random(11);
        float[] x = new float[FS.length() * 3 + 5];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 5);
        float[] gelu = lanes(FloatErf::gelu, x);
        for (int shift = 1; shift < FS.length(); shift += 3) {
            float[] shifted = new float[x.length + shift];
            System.arraycopy(x, 0, shifted, shift, x.length);
            float[] g = lanes(FloatErf::gelu, shifted);
            for (int i = 0; i < x.length; i++) {
                assertThat(Float.floatToRawIntBits(g[i + shift])).as("shift %d at %s", shift, x[i])
                        .isEqualTo(Float.floatToRawIntBits(gelu[i]));
            }
        }
    }

    /** The F32 GELU row kernel (full vectors and the masked tail) is these lanes, within the stated ulps of the reference. */
    @Test
    void geluRowKernelUsesTheFloatLanesEverywhere() {
        Random rnd = new Random(5);
        for (int n : KernelTestSupport.SIZES) {
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * 6);
            float[] out = new float[n + 2], ref = new float[n];
            UnaryKernels.apply(UnaryOp.GELU, x, 0, 1, out, 1, n);
            UnaryKernels.applyReference(UnaryOp.GELU, x, 0, 1, ref, 0, n);
            float[] lanes = lanes(FloatErf::gelu, x);
            for (int i = 0; i < n; i++) {
                assertThat(Float.floatToRawIntBits(out[1 + i])).as("n=%d at %s", n, x[i]).isEqualTo(Float.floatToRawIntBits(lanes[i]));
                assertThat(ulpError(out[1 + i], gelu(x[i]))).as("n=%d at %s vs reference %s", n, x[i], ref[i])
                        .isLessThanOrEqualTo(GELU_ULPS);
            }
            assertThat(out[0]).isZero();
            assertThat(out[n + 1]).as("no write past the row").isZero();
        }
    }
}
