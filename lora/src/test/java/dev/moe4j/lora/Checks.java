package dev.moe4j.lora;

import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import static org.assertj.core.api.Assertions.assertThat;

/** Tolerances and comparisons shared by the LoRA tests (one place for all tolerances). */
final class Checks {
    private Checks() {}

    /** Float32 computations against float64 ones. */
    static final double F32 = 1e-5;
    /** Float64 computations done two ways. */
    static final double F64 = 1e-12;

    /** ||got - want|| / ||want|| (or ||got|| when want is zero). */
    static double relErr(Tensor got, Tensor want) {
        assertThat(got.shape()).as("shape").isEqualTo(want.shape());
        double[] g = got.toDoubleArray(), w = want.toDoubleArray();
        double num = 0, den = 0;
        for (int i = 0; i < g.length; i++) {
            num += (g[i] - w[i]) * (g[i] - w[i]);
            den += w[i] * w[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    /** Asserts a relative error within {@code tol}. */
    static void close(Tensor got, Tensor want, double tol, String what) {
        double e = relErr(got, want);
        assertThat(e).as(what + " relative error (shapes " + Shape.str(got.shape()) + ")").isLessThanOrEqualTo(tol);
    }
}
