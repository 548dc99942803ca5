package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.moe4j.kernels.cpu.KernelTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

/** Softmax and log-softmax: Vector API against the scalar reference, and the reference against the definition. */
class SoftmaxKernelsTest {
    @Test
    void fastMatchesReferenceAndDefinition() {
        Random rnd = new Random(1);
        for (int n : SIZES) {
            double[] x = randomDoubles(rnd, 2 * n + 1, -20, 20);
            float[] xf = new float[x.length];
            for (int i = 0; i < x.length; i++) xf[i] = (float) x[i];
            double[] s = new double[n], sr = new double[n], l = new double[n], lr = new double[n];
            float[] sf = new float[n], sfr = new float[n], lf = new float[n], lfr = new float[n];
            SoftmaxKernels.softmax(x, 1, 1, s, 0, 1, n);
            SoftmaxKernels.softmaxReference(x, 1, 1, sr, 0, 1, n);
            SoftmaxKernels.logSoftmax(x, 1, 1, l, 0, 1, n);
            SoftmaxKernels.logSoftmaxReference(x, 1, 1, lr, 0, 1, n);
            SoftmaxKernels.softmax(xf, 1, 1, sf, 0, 1, n);
            SoftmaxKernels.softmaxReference(xf, 1, 1, sfr, 0, 1, n);
            SoftmaxKernels.logSoftmax(xf, 1, 1, lf, 0, 1, n);
            SoftmaxKernels.logSoftmaxReference(xf, 1, 1, lfr, 0, 1, n);
            assertClose("softmax F64 n=" + n, s, sr, 1e-14, 1e-300);
            assertClose("logSoftmax F64 n=" + n, l, lr, 1e-14, 1e-13);
            assertClose("softmax F32 n=" + n, sf, sfr, 2e-6, 1e-30);
            assertClose("logSoftmax F32 n=" + n, lf, lfr, 2e-6, 2e-5);
            double denominator = 0, total = 0;
            for (int i = 0; i < n; i++) denominator += Math.exp(x[1 + i]);
            for (int i = 0; i < n; i++) {
                double want = Math.exp(x[1 + i]) / denominator;
                assertThat(close(sr[i], want, 1e-13, 1e-300)).as("softmax definition").isTrue();
                assertThat(close(lr[i], Math.log(want), 1e-13, 1e-12)).as("logSoftmax definition").isTrue();
                total += s[i];
            }
            if (n > 0) assertThat(total).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-13));
        }
    }

    @Test
    void stridedRunsGoThroughTheReference() {
        Random rnd = new Random(2);
        int n = 19;
        double[] x = randomDoubles(rnd, 3 * n, -5, 5);
        double[] out = new double[2 * n], want = new double[2 * n], contiguous = new double[n], gathered = new double[n];
        SoftmaxKernels.softmax(x, 0, 3, out, 1, 2, n);
        for (int i = 0; i < n; i++) gathered[i] = x[3 * i];
        SoftmaxKernels.softmaxReference(gathered, 0, 1, contiguous, 0, 1, n);
        for (int i = 0; i < n; i++) want[1 + 2 * i] = contiguous[i];
        assertSame("strided softmax", out, want);
    }

    @Test
    void largeInputsDoNotOverflowAndInfiniteRowsFollowPyTorch() {
        float[] big = {1000f, 1001f, 999f};
        float[] out = new float[3];
        SoftmaxKernels.softmax(big, 0, 1, out, 0, 1, 3);
        double e = Math.exp(-1), d = 1 + e + Math.exp(-2);
        assertThat(out[1]).isCloseTo((float) (1 / d), org.assertj.core.data.Offset.offset(1e-6f));
        SoftmaxKernels.logSoftmax(big, 0, 1, out, 0, 1, 3);
        assertThat(out[1]).isCloseTo((float) -Math.log(d), org.assertj.core.data.Offset.offset(1e-6f));
        double ninf = Double.NEGATIVE_INFINITY;
        double[] masked = {ninf, 2, ninf, 2};
        double[] o = new double[4];
        SoftmaxKernels.softmax(masked, 0, 1, o, 0, 1, 4);
        assertThat(o).containsExactly(0, 0.5, 0, 0.5);
        double[] allMasked = new double[20];
        java.util.Arrays.fill(allMasked, ninf);
        double[] o2 = new double[20];
        SoftmaxKernels.softmax(allMasked, 0, 1, o2, 0, 1, 20);
        for (double v : o2) assertThat(v).isNaN();
    }
}
