package dev.moe4j.moe.ops;

/**
 * The error function in double precision, for the exact GELU.
 *
 * <p>For |x| &lt; 2.5 the Maclaurin series {@code erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))}
 * (its largest term is below e^6.25, so cancellation costs under 3 digits); for 2.5 &lt;= |x| &lt; 6 the
 * continued fraction of erfc, {@code erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))},
 * evaluated by the modified Lentz method; beyond 6, erf is +-1 to double precision.
 */
final class Erf {
    private Erf() {}

    private static final double TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

    static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double ax = Math.abs(x);
        if (ax >= 6) return Math.signum(x);
        if (ax < 2.5) {
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            return TWO_OVER_SQRT_PI * sum;
        }
        double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) * continuedFraction(ax);
        return Math.signum(x) * (1 - erfc);
    }

    /** 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + ...)))) by the modified Lentz method. */
    private static double continuedFraction(double x) {
        double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 300; n++) {
            double a = n / 2.0;
            d = x + a * d;
            if (d == 0) d = tiny;
            c = x + a / c;
            if (c == 0) c = tiny;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        return 1 / f;
    }
}
