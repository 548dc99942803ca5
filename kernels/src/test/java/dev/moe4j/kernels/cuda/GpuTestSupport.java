package dev.moe4j.kernels.cuda;

import static org.junit.jupiter.api.Assertions.fail;

import dev.moe4j.kernels.cpu.HalfFloat;

import java.util.Random;

import org.junit.jupiter.api.Assumptions;

/**
 * Shared pieces of the GPU tests: the device (or a JUnit assumption failure naming why there is none),
 * poisoned output buffers, bf16 rounding, comparisons. Tolerances live here.
 */
final class GpuTestSupport {
    private GpuTestSupport() {}

    /** float kernels vs a double reference, relative to the largest |reference| of the case. */
    static final double F32_TOL = 1e-5;
    /** bf16 operands and outputs vs a double reference on the same (rounded) operands, relative to scale. */
    static final double BF16_TOL = 1e-2;
    /** float gating (device exp vs the CPU's) vs the CPU, relative to max(1, |want|). */
    static final double GATING_TOL = 2e-6;
    /** A dot product in another summation order, relative to the largest |value|. */
    static final double DOT_TOL = 1e-5;

    /** The quiet-NaN bit pattern every float output is filled with before a launch. */
    static final int NAN_BITS = 0x7fc00000;
    /** bf16 quiet NaN. */
    static final short BF16_NAN = (short) 0x7fc0;
    /** The pattern int outputs are filled with. */
    static final int INT_POISON = 0xDEADBEEF;

    /** Device 0 with the kernels loaded, or the test is skipped with the reason. */
    static CudaDevice device() {
        Assumptions.assumeTrue(CudaProbe.available(), () -> "no CUDA device: " + CudaProbe.reason());
        Assumptions.assumeTrue(KernelBuild.available(), () -> "CUDA kernels not built: " + KernelBuild.reason());
        return CudaDevice.get(0);
    }

    static DeviceBuffer upload(CudaDevice d, float[] a) {
        DeviceBuffer b = d.allocate(4L * a.length);
        b.write(a);
        return b;
    }

    static DeviceBuffer upload(CudaDevice d, int[] a) {
        DeviceBuffer b = d.allocate(4L * a.length);
        b.write(a);
        return b;
    }

    static DeviceBuffer upload(CudaDevice d, short[] a) {
        DeviceBuffer b = d.allocate(2L * a.length);
        b.write(a);
        return b;
    }

    /** A buffer of n floats (or ints) filled with NaN bits. */
    static DeviceBuffer poisoned32(CudaDevice d, long n) {
        DeviceBuffer b = d.allocate(4 * n);
        b.fill32(NAN_BITS);
        return b;
    }

    /** A buffer of n bf16 filled with NaN. */
    static DeviceBuffer poisoned16(CudaDevice d, long n) {
        DeviceBuffer b = d.allocate(2 * n);
        if (n > 0) b.fill16(BF16_NAN);
        return b;
    }

    static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    static short[] toBf16(float[] a) {
        short[] s = new short[a.length];
        for (int i = 0; i < a.length; i++) s[i] = HalfFloat.floatToBf16(a[i]);
        return s;
    }

    static float[] fromBf16(short[] s) {
        float[] a = new float[s.length];
        for (int i = 0; i < s.length; i++) a[i] = HalfFloat.bf16ToFloat(s[i]);
        return a;
    }

    /** a rounded to bf16 and back: the values a bf16 operand really holds. */
    static float[] roundBf16(float[] a) { return fromBf16(toBf16(a)); }

    static double[] widen(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }

    /** Equal by {@code ==} (so -0.0 equals 0.0); NaN never passes. */
    static void assertSameFloats(String what, float[] want, float[] got) {
        if (want.length != got.length) fail(what + ": lengths " + want.length + " and " + got.length);
        for (int i = 0; i < want.length; i++) {
            if (!(want[i] == got[i])) fail(what + " differs at " + i + ": want " + want[i] + ", got " + got[i]);
        }
    }

    static void assertSameInts(String what, int[] want, int[] got) {
        if (want.length != got.length) fail(what + ": lengths " + want.length + " and " + got.length);
        for (int i = 0; i < want.length; i++) {
            if (want[i] != got[i]) fail(what + " differs at " + i + ": want " + want[i] + ", got " + got[i]);
        }
    }

    /** |got - want| <= tol * max(floor, max |want|) everywhere; NaN never passes. */
    static void assertCloseToScale(String what, double[] want, float[] got, double tol, double floor) {
        if (want.length != got.length) fail(what + ": lengths " + want.length + " and " + got.length);
        double scale = floor;
        for (double w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            if (!(err <= tol * scale)) fail(what + " at " + i + ": want " + want[i] + ", got " + got[i] + " (error " + err + ", scale " + scale + ")");
        }
    }

    /** |got - want| <= tol * max(1, |want|) element-wise; NaN never passes. */
    static void assertClose(String what, float[] want, float[] got, double tol) {
        if (want.length != got.length) fail(what + ": lengths " + want.length + " and " + got.length);
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            if (!(err <= tol * Math.max(1, Math.abs(want[i])))) fail(what + " at " + i + ": want " + want[i] + ", got " + got[i]);
        }
    }

    /** Expert ids [T, k], distinct within a token; {@code skew}: 0 uniform, 1 skewed (u^4, many empty experts), 2 all to the last expert first. */
    static int[] expertIds(Random rnd, int numTokens, int k, int numExperts, int skew) {
        int[] ids = new int[numTokens * k];
        boolean[] used = new boolean[numExperts];
        for (int t = 0; t < numTokens; t++) {
            java.util.Arrays.fill(used, false);
            for (int j = 0; j < k; j++) {
                int e;
                do {
                    e = switch (skew) {
                        case 0 -> rnd.nextInt(numExperts);
                        case 1 -> (int) (numExperts * Math.pow(rnd.nextDouble(), 4));
                        default -> used[numExperts - 1] ? rnd.nextInt(numExperts) : numExperts - 1;
                    };
                } while (used[e]);
                used[e] = true;
                ids[t * k + j] = e;
            }
        }
        return ids;
    }
}
