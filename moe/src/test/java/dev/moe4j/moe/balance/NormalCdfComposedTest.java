package dev.moe4j.moe.balance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moe4j.kernels.cpu.Erf;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

import org.junit.jupiter.api.Test;

/** The composed normal CDF of the device branch, run on CPU tensors, against the double erfc. */
class NormalCdfComposedTest {
    @Test
    void matchesTheDoubleErfcWithRelativePrecisionInBothTails() {
        int n = 2001;
        double[] z = new double[n];
        for (int i = 0; i < n; i++) z[i] = -13 + 26.0 * i / (n - 1);
        Tensor zt = Tensor.of(z, n).to(DType.F32);
        float[] zf = zt.toFloatArray();
        float[] got = NormalCdf.composed(zt).toFloatArray();
        for (int i = 0; i < n; i++) {
            double want = 0.5 * Erf.erfc(-zf[i] / Math.sqrt(2));
            // fit error 1.2e-7 relative, plus F32 rounding of the exponent's argument (up to ~1e-5 relative at |z| = 13)
            assertEquals(want, got[i], 2e-5 * want + 1e-7, "Phi(" + zf[i] + ")");
        }
    }
}
