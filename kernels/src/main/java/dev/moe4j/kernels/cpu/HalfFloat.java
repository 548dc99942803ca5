package dev.moe4j.kernels.cpu;

/**
 * Conversions between {@code float} and the 16-bit storage formats.
 *
 * <ul>
 *   <li>bfloat16: the upper 16 bits of an IEEE-754 binary32 (8 exponent bits, 7 mantissa bits).
 *       Narrowing rounds to nearest, ties to even; NaN stays a (quiet) NaN, infinities stay infinite.</li>
 *   <li>float16 (IEEE-754 binary16): delegated to {@link Float#floatToFloat16} and
 *       {@link Float#float16ToFloat}, which round to nearest even and keep NaN and infinities.</li>
 * </ul>
 * Bit patterns are carried in {@code short}.
 */
public final class HalfFloat {
    private HalfFloat() {}

    /** bfloat16 bits to float: exact (widening). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** float to bfloat16 bits, round to nearest even; NaN maps to a quiet NaN with the same sign. */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {           // NaN: keep sign, force a quiet mantissa bit
            return (short) ((x >>> 16) | 0x0040);
        }
        int lsb = (x >>> 16) & 1;                        // ties go to the even neighbour
        int rounded = x + 0x7fff + lsb;
        return (short) (rounded >>> 16);
    }

    /** float16 bits to float: exact (widening). */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float to float16 bits, round to nearest even. */
    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** Widens {@code n} bfloat16 values {@code src[srcOff..]} into {@code dst[dstOff..]}. */
    public static void bf16ToFloat(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) dst[dstOff + i] = bf16ToFloat(src[srcOff + i]);
    }

    /** Narrows {@code n} floats {@code src[srcOff..]} into bfloat16 {@code dst[dstOff..]}. */
    public static void floatToBf16(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) dst[dstOff + i] = floatToBf16(src[srcOff + i]);
    }
}
