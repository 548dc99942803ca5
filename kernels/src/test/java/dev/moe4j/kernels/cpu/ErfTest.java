package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** erf / erfc against an independent 160-digit evaluation of the Maclaurin series. */
class ErfTest {
    private static final MathContext MC = new MathContext(160, RoundingMode.HALF_EVEN);
    private static final BigDecimal TWO_OVER_SQRT_PI = BigDecimal.valueOf(2).divide(pi().sqrt(MC), MC);

    /** &pi; by Machin's formula 16 atan(1/5) - 4 atan(1/239). */
    private static BigDecimal pi() {
        return atanInverse(5).multiply(BigDecimal.valueOf(16)).subtract(atanInverse(239).multiply(BigDecimal.valueOf(4)), MC);
    }

    private static BigDecimal atanInverse(int k) {
        BigDecimal x = BigDecimal.ONE.divide(BigDecimal.valueOf(k), MC), x2 = x.multiply(x, MC);
        BigDecimal term = x, sum = BigDecimal.ZERO;
        BigDecimal eps = BigDecimal.ONE.movePointLeft(170);
        for (int n = 0; term.abs().compareTo(eps) > 0; n++) {
            BigDecimal t = term.divide(BigDecimal.valueOf(2L * n + 1), MC);
            sum = (n % 2 == 0) ? sum.add(t, MC) : sum.subtract(t, MC);
            term = term.multiply(x2, MC);
        }
        return sum;
    }

    /** erf(x) with 160 digits: exact enough for |x| &le; 10 even after the series' cancellation. */
    private static BigDecimal erfExact(double xd) {
        BigDecimal x = new BigDecimal(xd), x2 = x.multiply(x, MC);
        BigDecimal power = x, sum = BigDecimal.ZERO, factorial = BigDecimal.ONE;
        BigDecimal eps = BigDecimal.ONE.movePointLeft(150);
        for (int n = 0; ; n++) {
            if (n > 0) factorial = factorial.multiply(BigDecimal.valueOf(n));
            BigDecimal term = power.divide(factorial.multiply(BigDecimal.valueOf(2L * n + 1)), MC);
            sum = (n % 2 == 0) ? sum.add(term, MC) : sum.subtract(term, MC);
            if (n > 10 && term.abs().compareTo(eps) < 0) break;
            power = power.multiply(x2, MC);
        }
        return sum.multiply(TWO_OVER_SQRT_PI, MC);
    }

    private static double relErr(double got, BigDecimal want) {
        if (want.signum() == 0) return Math.abs(got);
        return new BigDecimal(got).subtract(want, MC).divide(want, MC).abs().doubleValue();
    }

    @Test
    void erfAndErfcMatchTheHighPrecisionSeries() {
        Random rnd = new Random(7);
        double worstErf = 0, worstErfc = 0, worstErfcOutside = 0;
        for (int i = 0; i < 400; i++) {
            double x = i < 40 ? (rnd.nextDouble() - 0.5) * 1e-3 : (rnd.nextDouble() - 0.5) * 16;
            if (i == 41) x = 2.0;
            if (i == 42) x = Math.nextDown(2.0);
            BigDecimal e = erfExact(x);
            worstErf = Math.max(worstErf, relErr(Erf.erf(x), e));
            double c = relErr(Erf.erfc(x), BigDecimal.ONE.subtract(e, MC));
            if (Math.abs(x) < 2) worstErfc = Math.max(worstErfc, c);
            else worstErfcOutside = Math.max(worstErfcOutside, c);
        }
        assertThat(worstErf).as("erf relative error").isLessThan(2e-15);
        assertThat(worstErfc).as("erfc relative error for |x| < 2 (1 - series)").isLessThan(3e-13);
        assertThat(worstErfcOutside).as("erfc relative error for |x| >= 2 (continued fraction)").isLessThan(1e-14);
    }

    @Test
    void specialValues() {
        assertThat(Erf.erf(0.0)).isEqualTo(0.0);
        assertThat(Erf.erf(Double.POSITIVE_INFINITY)).isEqualTo(1.0);
        assertThat(Erf.erf(Double.NEGATIVE_INFINITY)).isEqualTo(-1.0);
        assertThat(Erf.erfc(Double.POSITIVE_INFINITY)).isEqualTo(0.0);
        assertThat(Erf.erfc(Double.NEGATIVE_INFINITY)).isEqualTo(2.0);
        assertThat(Erf.erfc(30.0)).isEqualTo(0.0);
        assertThat(Erf.erf(Double.NaN)).isNaN();
        assertThat(Erf.erfc(Double.NaN)).isNaN();
        for (double x : new double[] {0.3, 1.7, 2.5, 7.0}) {
            assertThat(Erf.erf(-x)).isEqualTo(-Erf.erf(x));
            assertThat(Erf.erfc(-x)).isEqualTo(2.0 - Erf.erfc(x));
        }
    }

    @Test
    void vectorLanesAgreeWithScalar() {
        Random rnd = new Random(11);
        var species = DoubleVector.SPECIES_PREFERRED;
        double[] x = new double[species.length() * 64];
        for (int i = 0; i < x.length; i++) x[i] = (rnd.nextDouble() - 0.5) * (i % 3 == 0 ? 60 : 8);
        x[0] = Double.NaN;
        x[1] = Double.POSITIVE_INFINITY;
        x[2] = Double.NEGATIVE_INFINITY;
        x[3] = 2.0;
        x[4] = -2.0;
        double[] erf = new double[x.length], erfc = new double[x.length];
        for (int i = 0; i < x.length; i += species.length()) {
            DoubleVector v = DoubleVector.fromArray(species, x, i);
            Erf.erf(v).intoArray(erf, i);
            Erf.erfc(v).intoArray(erfc, i);
        }
        for (int i = 0; i < x.length; i++) {
            assertThat(KernelTestSupport.close(erf[i], Erf.erf(x[i]), 4e-16, 0)).as("erf lane at x = %s", x[i]).isTrue();
            assertThat(KernelTestSupport.close(erfc[i], Erf.erfc(x[i]), 4e-16, 0)).as("erfc lane at x = %s", x[i]).isTrue();
        }
    }
}
