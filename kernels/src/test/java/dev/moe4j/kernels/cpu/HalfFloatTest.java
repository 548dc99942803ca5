package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class HalfFloatTest {

    /** Round-to-nearest-even computed independently with doubles: the nearest bf16 value, ties to an even mantissa. */
    private static float bf16Nearest(float f) {
        int bits = Float.floatToRawIntBits(f);
        float lo = Float.intBitsToFloat(bits & 0xffff0000);
        float hi = Float.intBitsToFloat((bits & 0xffff0000) + 0x10000);
        double dLo = Math.abs((double) f - lo), dHi = Math.abs((double) hi - f);
        if (dLo < dHi) return lo;
        if (dHi < dLo) return hi;
        return ((bits >>> 16) & 1) == 0 ? lo : hi;
    }

    @Test
    void bf16RoundsToNearestEven() {
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (!Float.isFinite(f) || Math.abs(f) > 3.3e38f) continue;
            float got = HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(f));
            assertThat(got).as("bf16(%s)", f).isEqualTo(bf16Nearest(f));
        }
    }

    @Test
    void bf16ExactTies() {
        // 1 + 2^-8 lies exactly between 1 and 1 + 2^-7: ties to even (1.0).
        assertThat(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(1f + 0x1p-8f))).isEqualTo(1f);
        // 1 + 3*2^-8 lies between 1+2^-7 (odd) and 1+2^-6 (even): goes up.
        assertThat(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(1f + 3 * 0x1p-8f))).isEqualTo(1f + 0x1p-6f);
    }

    @Test
    void specialValuesSurvive() {
        assertThat(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(Float.NaN))).isNaN();
        assertThat(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(Float.intBitsToFloat(0x7f800001)))).isNaN();
        assertThat(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(Float.POSITIVE_INFINITY))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(Float.NEGATIVE_INFINITY))).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(Float.MAX_VALUE))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Float.floatToRawIntBits(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(-0f)))).isEqualTo(0x80000000);
        assertThat(HalfFloat.f16ToFloat(HalfFloat.floatToF16(Float.NaN))).isNaN();
        assertThat(HalfFloat.f16ToFloat(HalfFloat.floatToF16(1e6f))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(HalfFloat.f16ToFloat(HalfFloat.floatToF16(65504f))).isEqualTo(65504f);
    }

    @Test
    void f16RoundTripOfAllPatterns() {
        for (int b = 0; b < 0x10000; b++) {
            short s = (short) b;
            float f = HalfFloat.f16ToFloat(s);
            if (Float.isNaN(f)) continue;
            assertThat(HalfFloat.floatToF16(f)).isEqualTo(s);
        }
    }

    @Test
    void arrayConversions() {
        float[] src = {0.1f, -2.5f, 1e-3f, 3.14159f, 65000f};
        short[] mid = new short[7];
        HalfFloat.floatToBf16(src, 0, mid, 2, src.length);
        float[] back = new float[6];
        HalfFloat.bf16ToFloat(mid, 2, back, 1, src.length);
        for (int i = 0; i < src.length; i++) assertThat(back[i + 1]).isEqualTo(bf16Nearest(src[i]));
    }
}
