package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * In-register transposes of 16-float blocks, used by {@link SgemmBlocked} to pack an operand whose
 * layout is the transpose of what the micro-kernel wants (a row-major A, whose panels are read
 * down the columns; a transposed B such as {@code W^T} of an {@code nn.Linear} weight). A scalar
 * transposing copy writes one float per instruction with a large stride; this one loads 16 rows
 * as vectors, transposes them in registers and stores 16 whole vectors, several times faster.
 *
 * <h2>Algorithm: four butterfly stages</h2>
 * Element {@code (j, p)} starts in vector {@code j} at lane {@code p} and must end in vector
 * {@code p} at lane {@code j}. Writing both numbers in binary, the transpose swaps the four bits of
 * the vector number with the four bits of the lane number; stage {@code b} swaps bit {@code b} of
 * each. For a pair of vectors {@code (v, v | 1<<b)} (bit {@code b} of {@code v} clear) that is
 * <pre>
 *   out_lo[l] = bit b of l == 0 ? in_lo[l]          : in_hi[l - (1<<b)]
 *   out_hi[l] = bit b of l == 0 ? in_lo[l + (1<<b)] : in_hi[l]
 * </pre>
 * one two-source permute per output vector ({@code selectFrom(v1, v2)}, a {@code vpermi2ps}):
 * 4 stages x 16 permutes for 256 floats. The index vectors {@code LOb, HIb} hold those lane
 * choices ({@code l} selects from the first source, {@code 16 + l} from the second).
 *
 * <p>Only for 16-lane float vectors (AVX-512); {@link #SUPPORTED} tells whether the preferred
 * species has them, otherwise the packing routines use their scalar loops.
 */
final class BlockTranspose {
    private BlockTranspose() {}

    /** True when the preferred float vector has 16 lanes, so these transposes apply. */
    static final boolean SUPPORTED = FloatVector.SPECIES_PREFERRED.length() == 16;

    private static final VectorSpecies<Float> T = FloatVector.SPECIES_512;
    private static final VectorMask<Float> FIRST_12 = VectorMask.fromLong(T, (1L << 12) - 1);
    private static final FloatVector LO0 = index(0, false), HI0 = index(0, true);
    private static final FloatVector LO1 = index(1, false), HI1 = index(1, true);
    private static final FloatVector LO2 = index(2, false), HI2 = index(2, true);
    private static final FloatVector LO3 = index(3, false), HI3 = index(3, true);

    /** Lane choices of stage {@code b} for the low ({@code hi = false}) or high output vector. */
    private static FloatVector index(int b, boolean hi) {
        float[] idx = new float[16];
        for (int l = 0; l < 16; l++) {
            boolean bitClear = ((l >> b) & 1) == 0;
            if (!hi) idx[l] = bitClear ? l : 16 + (l & ~(1 << b));
            else idx[l] = bitClear ? (l | (1 << b)) : 16 + l;
        }
        return FloatVector.fromArray(T, idx, 0);
    }

    /**
     * Transposes a 16 x 16 block: {@code dst[d + p*dstLd + j] = src[s + j*ld + p]} for
     * {@code j, p < 16}, in registers (AVX-512 only, see {@link #SUPPORTED}).
     */
    static void transpose16x16(float[] src, int s, int ld, float[] dst, int d, int dstLd) {
        FloatVector r0 = FloatVector.fromArray(T, src, s), r1 = FloatVector.fromArray(T, src, s + 1 * ld), r2 = FloatVector.fromArray(T, src, s + 2 * ld), r3 = FloatVector.fromArray(T, src, s + 3 * ld);
        FloatVector r4 = FloatVector.fromArray(T, src, s + 4 * ld), r5 = FloatVector.fromArray(T, src, s + 5 * ld), r6 = FloatVector.fromArray(T, src, s + 6 * ld), r7 = FloatVector.fromArray(T, src, s + 7 * ld);
        FloatVector r8 = FloatVector.fromArray(T, src, s + 8 * ld), r9 = FloatVector.fromArray(T, src, s + 9 * ld), ra = FloatVector.fromArray(T, src, s + 10 * ld), rb = FloatVector.fromArray(T, src, s + 11 * ld);
        FloatVector rc = FloatVector.fromArray(T, src, s + 12 * ld), rd = FloatVector.fromArray(T, src, s + 13 * ld), re = FloatVector.fromArray(T, src, s + 14 * ld), rf = FloatVector.fromArray(T, src, s + 15 * ld);
        FloatVector t;
        // stage 0: swap bit 0 of the row number with bit 0 of the lane number
        t = LO0.selectFrom(r0, r1); r1 = HI0.selectFrom(r0, r1); r0 = t; t = LO0.selectFrom(r2, r3); r3 = HI0.selectFrom(r2, r3); r2 = t;
        t = LO0.selectFrom(r4, r5); r5 = HI0.selectFrom(r4, r5); r4 = t; t = LO0.selectFrom(r6, r7); r7 = HI0.selectFrom(r6, r7); r6 = t;
        t = LO0.selectFrom(r8, r9); r9 = HI0.selectFrom(r8, r9); r8 = t; t = LO0.selectFrom(ra, rb); rb = HI0.selectFrom(ra, rb); ra = t;
        t = LO0.selectFrom(rc, rd); rd = HI0.selectFrom(rc, rd); rc = t; t = LO0.selectFrom(re, rf); rf = HI0.selectFrom(re, rf); re = t;
        // stage 1: swap bit 1 of the row number with bit 1 of the lane number
        t = LO1.selectFrom(r0, r2); r2 = HI1.selectFrom(r0, r2); r0 = t; t = LO1.selectFrom(r1, r3); r3 = HI1.selectFrom(r1, r3); r1 = t;
        t = LO1.selectFrom(r4, r6); r6 = HI1.selectFrom(r4, r6); r4 = t; t = LO1.selectFrom(r5, r7); r7 = HI1.selectFrom(r5, r7); r5 = t;
        t = LO1.selectFrom(r8, ra); ra = HI1.selectFrom(r8, ra); r8 = t; t = LO1.selectFrom(r9, rb); rb = HI1.selectFrom(r9, rb); r9 = t;
        t = LO1.selectFrom(rc, re); re = HI1.selectFrom(rc, re); rc = t; t = LO1.selectFrom(rd, rf); rf = HI1.selectFrom(rd, rf); rd = t;
        // stage 2: swap bit 2 of the row number with bit 2 of the lane number
        t = LO2.selectFrom(r0, r4); r4 = HI2.selectFrom(r0, r4); r0 = t; t = LO2.selectFrom(r1, r5); r5 = HI2.selectFrom(r1, r5); r1 = t;
        t = LO2.selectFrom(r2, r6); r6 = HI2.selectFrom(r2, r6); r2 = t; t = LO2.selectFrom(r3, r7); r7 = HI2.selectFrom(r3, r7); r3 = t;
        t = LO2.selectFrom(r8, rc); rc = HI2.selectFrom(r8, rc); r8 = t; t = LO2.selectFrom(r9, rd); rd = HI2.selectFrom(r9, rd); r9 = t;
        t = LO2.selectFrom(ra, re); re = HI2.selectFrom(ra, re); ra = t; t = LO2.selectFrom(rb, rf); rf = HI2.selectFrom(rb, rf); rb = t;
        // stage 3: swap bit 3 of the row number with bit 3 of the lane number
        t = LO3.selectFrom(r0, r8); r8 = HI3.selectFrom(r0, r8); r0 = t; t = LO3.selectFrom(r1, r9); r9 = HI3.selectFrom(r1, r9); r1 = t;
        t = LO3.selectFrom(r2, ra); ra = HI3.selectFrom(r2, ra); r2 = t; t = LO3.selectFrom(r3, rb); rb = HI3.selectFrom(r3, rb); r3 = t;
        t = LO3.selectFrom(r4, rc); rc = HI3.selectFrom(r4, rc); r4 = t; t = LO3.selectFrom(r5, rd); rd = HI3.selectFrom(r5, rd); r5 = t;
        t = LO3.selectFrom(r6, re); re = HI3.selectFrom(r6, re); r6 = t; t = LO3.selectFrom(r7, rf); rf = HI3.selectFrom(r7, rf); r7 = t;
        r0.intoArray(dst, d); r1.intoArray(dst, d + 1 * dstLd); r2.intoArray(dst, d + 2 * dstLd); r3.intoArray(dst, d + 3 * dstLd);
        r4.intoArray(dst, d + 4 * dstLd); r5.intoArray(dst, d + 5 * dstLd); r6.intoArray(dst, d + 6 * dstLd); r7.intoArray(dst, d + 7 * dstLd);
        r8.intoArray(dst, d + 8 * dstLd); r9.intoArray(dst, d + 9 * dstLd); ra.intoArray(dst, d + 10 * dstLd); rb.intoArray(dst, d + 11 * dstLd);
        rc.intoArray(dst, d + 12 * dstLd); rd.intoArray(dst, d + 13 * dstLd); re.intoArray(dst, d + 14 * dstLd); rf.intoArray(dst, d + 15 * dstLd);
    }

    /**
     * Transposes a 12 x 16 block into 16 rows of 12: {@code dst[d + p*dstLd + i] = src[s + i*ld + p]}
     * for {@code i < 12, p < 16} (rows 12..15 of the butterfly are zeros and are not stored).
     */
    static void transpose12x16(float[] src, int s, int ld, float[] dst, int d, int dstLd) {
        FloatVector r0 = FloatVector.fromArray(T, src, s), r1 = FloatVector.fromArray(T, src, s + 1 * ld), r2 = FloatVector.fromArray(T, src, s + 2 * ld), r3 = FloatVector.fromArray(T, src, s + 3 * ld);
        FloatVector r4 = FloatVector.fromArray(T, src, s + 4 * ld), r5 = FloatVector.fromArray(T, src, s + 5 * ld), r6 = FloatVector.fromArray(T, src, s + 6 * ld), r7 = FloatVector.fromArray(T, src, s + 7 * ld);
        FloatVector r8 = FloatVector.fromArray(T, src, s + 8 * ld), r9 = FloatVector.fromArray(T, src, s + 9 * ld), ra = FloatVector.fromArray(T, src, s + 10 * ld), rb = FloatVector.fromArray(T, src, s + 11 * ld);
        FloatVector rc = FloatVector.zero(T), rd = FloatVector.zero(T), re = FloatVector.zero(T), rf = FloatVector.zero(T);
        FloatVector t;
        // stage 0: swap bit 0 of the row number with bit 0 of the lane number
        t = LO0.selectFrom(r0, r1); r1 = HI0.selectFrom(r0, r1); r0 = t; t = LO0.selectFrom(r2, r3); r3 = HI0.selectFrom(r2, r3); r2 = t;
        t = LO0.selectFrom(r4, r5); r5 = HI0.selectFrom(r4, r5); r4 = t; t = LO0.selectFrom(r6, r7); r7 = HI0.selectFrom(r6, r7); r6 = t;
        t = LO0.selectFrom(r8, r9); r9 = HI0.selectFrom(r8, r9); r8 = t; t = LO0.selectFrom(ra, rb); rb = HI0.selectFrom(ra, rb); ra = t;
        t = LO0.selectFrom(rc, rd); rd = HI0.selectFrom(rc, rd); rc = t; t = LO0.selectFrom(re, rf); rf = HI0.selectFrom(re, rf); re = t;
        // stage 1: swap bit 1 of the row number with bit 1 of the lane number
        t = LO1.selectFrom(r0, r2); r2 = HI1.selectFrom(r0, r2); r0 = t; t = LO1.selectFrom(r1, r3); r3 = HI1.selectFrom(r1, r3); r1 = t;
        t = LO1.selectFrom(r4, r6); r6 = HI1.selectFrom(r4, r6); r4 = t; t = LO1.selectFrom(r5, r7); r7 = HI1.selectFrom(r5, r7); r5 = t;
        t = LO1.selectFrom(r8, ra); ra = HI1.selectFrom(r8, ra); r8 = t; t = LO1.selectFrom(r9, rb); rb = HI1.selectFrom(r9, rb); r9 = t;
        t = LO1.selectFrom(rc, re); re = HI1.selectFrom(rc, re); rc = t; t = LO1.selectFrom(rd, rf); rf = HI1.selectFrom(rd, rf); rd = t;
        // stage 2: swap bit 2 of the row number with bit 2 of the lane number
        t = LO2.selectFrom(r0, r4); r4 = HI2.selectFrom(r0, r4); r0 = t; t = LO2.selectFrom(r1, r5); r5 = HI2.selectFrom(r1, r5); r1 = t;
        t = LO2.selectFrom(r2, r6); r6 = HI2.selectFrom(r2, r6); r2 = t; t = LO2.selectFrom(r3, r7); r7 = HI2.selectFrom(r3, r7); r3 = t;
        t = LO2.selectFrom(r8, rc); rc = HI2.selectFrom(r8, rc); r8 = t; t = LO2.selectFrom(r9, rd); rd = HI2.selectFrom(r9, rd); r9 = t;
        t = LO2.selectFrom(ra, re); re = HI2.selectFrom(ra, re); ra = t; t = LO2.selectFrom(rb, rf); rf = HI2.selectFrom(rb, rf); rb = t;
        // stage 3: swap bit 3 of the row number with bit 3 of the lane number
        t = LO3.selectFrom(r0, r8); r8 = HI3.selectFrom(r0, r8); r0 = t; t = LO3.selectFrom(r1, r9); r9 = HI3.selectFrom(r1, r9); r1 = t;
        t = LO3.selectFrom(r2, ra); ra = HI3.selectFrom(r2, ra); r2 = t; t = LO3.selectFrom(r3, rb); rb = HI3.selectFrom(r3, rb); r3 = t;
        t = LO3.selectFrom(r4, rc); rc = HI3.selectFrom(r4, rc); r4 = t; t = LO3.selectFrom(r5, rd); rd = HI3.selectFrom(r5, rd); r5 = t;
        t = LO3.selectFrom(r6, re); re = HI3.selectFrom(r6, re); r6 = t; t = LO3.selectFrom(r7, rf); rf = HI3.selectFrom(r7, rf); r7 = t;
        r0.intoArray(dst, d, FIRST_12); r1.intoArray(dst, d + 1 * dstLd, FIRST_12); r2.intoArray(dst, d + 2 * dstLd, FIRST_12); r3.intoArray(dst, d + 3 * dstLd, FIRST_12);
        r4.intoArray(dst, d + 4 * dstLd, FIRST_12); r5.intoArray(dst, d + 5 * dstLd, FIRST_12); r6.intoArray(dst, d + 6 * dstLd, FIRST_12); r7.intoArray(dst, d + 7 * dstLd, FIRST_12);
        r8.intoArray(dst, d + 8 * dstLd, FIRST_12); r9.intoArray(dst, d + 9 * dstLd, FIRST_12); ra.intoArray(dst, d + 10 * dstLd, FIRST_12); rb.intoArray(dst, d + 11 * dstLd, FIRST_12);
        rc.intoArray(dst, d + 12 * dstLd, FIRST_12); rd.intoArray(dst, d + 13 * dstLd, FIRST_12); re.intoArray(dst, d + 14 * dstLd, FIRST_12); rf.intoArray(dst, d + 15 * dstLd, FIRST_12);
    }
}
