package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The error function, its complement and the normal CDF at float precision on {@link FloatVector} lanes: the
 * fast path of F32 GELU. The specification is the double-precision {@link Erf} (and {@link UnaryOp#GELU}'s
 * scalar reference built on it); these lanes agree with it, rounded to float, to within a few float ulps.
 *
 * <h2>Algorithm</h2>
 * Three minimax approximations, each fitted to relative error at float precision (coefficients derived for
 * this class by a Lawson-weighted linearised least-squares fit on 4000 Chebyshev nodes, which converges to the
 * equioscillating minimax solution; fit error about 0.1 to 0.2 of a float ulp, the rest is rounding):
 * <ol>
 *   <li>Small arguments, |x| &lt; 0.9: erf(x) = x &middot; (2/&radic;&pi; + u E(u)), u = x&sup2;, E a
 *       degree-4 polynomial (the Maclaurin series' shape with re-fitted coefficients); the leading
 *       2/&radic;&pi; is carried as a float pair and x &middot; 2/&radic;&pi; rounds once, in the final fused
 *       multiply-add. Used by {@link #erf} only.</li>
 *   <li>The scaled complement erfcx(z) = e<sup>z&sup2;</sup> erfc(z) on 0 &le; z &le; 10.5 is smooth and
 *       monotone, from 1 down to about 1/(z&radic;&pi;): a (4, 5) rational R(z) = P(z) / Q(z) with positive
 *       coefficients, so that neither polynomial cancels for z &ge; 0. Then
 *       erfc(z) = e<sup>-z&sup2;</sup> R(z) for z &ge; 0, erfc(-z) = 2 - erfc(z), erf(z) = 1 - erfc(z) for
 *       z &ge; 0.9 (there erfc &le; 0.21 &le; erf / 3.8, so its rounding is damped in erf). Beyond 10.5,
 *       erfc is below half the smallest subnormal float and rounds to 0.</li>
 *   <li>For GELU, &Phi;(-s) = erfc(s/&radic;2)/2 = e<sup>-s&sup2;/2</sup> S(s) with a second (4, 5) rational
 *       S(s) = erfcx(s/&radic;2)/2 fitted directly in s = |x| on [0, 14.5], so the product s/&radic;2 is never
 *       rounded. GELU(x) = x &middot; &Phi;(x), &Phi;(x) = &Phi;(-|x|) for x &le; 0 and 1 - &Phi;(-|x|) for x &gt; 0.
 *       For x &le; 0 the product is taken as (x S(s)) e<sup>-s&sup2;/2</sup>, the tiny factor last, so a
 *       subnormal result is rounded once. Below x = -14.5, GELU is below half the smallest subnormal and
 *       rounds to -0 (to NaN at x = -&infin;, as -&infin; &middot; 0 in the reference).</li>
 * </ol>
 * The Gaussian factor keeps full relative accuracy in the far tail: x&sup2; = hi + lo exactly (one fused
 * multiply-add gives lo), e<sup>-hi</sup> comes from {@link #expNonPositive} (argument exact) and the factor
 * e<sup>-lo</sup> is applied to first order as g - g &middot; lo, one rounding. The rationals are evaluated
 * as even and odd halves in z&sup2; (shorter dependency chains, fewer roundings in a row than Horner's rule).
 *
 * <p>Measured against {@link Erf} over every 97th float bit pattern in [-10, 10] (GELU: every 389th in
 * [-16, 16]) plus special values ({@code FloatErfTest}), in ulps of the reference rounded to float
 * ({@link Float#MIN_VALUE} for subnormal results): erf at most 1.11 ulps (test bound 1.5), erfc at most 4.63
 * (bound 5, relative accuracy kept into the far tail), GELU at most 4.86 (bound 5). Most of erfc's and GELU's
 * error is the rounding of the rational's two polynomials, not the fit.
 *
 * <p>Every result is a fixed sequence of IEEE lane operations (add, multiply, fused multiply-add, divide,
 * integer shifts, compare/blend), so it is the same in every execution tier and on every lane position.
 * Special values: NaN stays NaN; erf(&plusmn;&infin;) = &plusmn;1, erfc(+&infin;) = 0, erfc(-&infin;) = 2,
 * erf(&plusmn;0) = &plusmn;0, GELU(+&infin;) = +&infin;.
 */
public final class FloatErf {
    private FloatErf() {}

    /** Below this |x|, {@link #erf} uses the small-argument polynomial. */
    static final float SMALL_LIMIT = 0.9f;
    /** erfc arguments are clamped here: e<sup>-z&sup2;</sup> R(z) is below {@code Float.MIN_VALUE / 2} beyond it. */
    static final float ERFC_LIMIT = 10.5f;
    /** GELU's |x| is clamped here: x &middot; &Phi;(-|x|) is below {@code Float.MIN_VALUE / 2} beyond it. */
    static final float GELU_LIMIT = 14.5f;

    // erf(x) = x * (2/sqrt(pi) + u * E(u)), u = x^2, on |x| < 0.9; 2/sqrt(pi) = C0_HI + C0_LO
    private static final float C0_HI = 1.128379226e+00f, C0_LO = -5.863538277e-08f;
    private static final float E1 = -3.761255741e-01f, E2 = 1.128237993e-01f, E3 = -2.678566985e-02f,
            E4 = 5.020303652e-03f, E5 = -6.127743400e-04f;

    // erfcx(z) = P(z) / Q(z) on [0, 10.5], both scaled by 1.9 (see rational)
    private static final float RP0 = 1.899999976e+00f, RP1 = 2.359152794e+00f, RP2 = 1.396522284e+00f,
            RP3 = 4.386051297e-01f, RP4 = 6.296302378e-02f;
    private static final float RQ0 = 1.899999976e+00f, RQ1 = 4.503074646e+00f, RQ2 = 4.577678680e+00f,
            RQ3 = 2.530287504e+00f, RQ4 = 7.774545550e-01f, RQ5 = 1.115978286e-01f;

    // erfcx(s / sqrt 2) / 2 = P(s) / Q(s) on [0, 14.5], Q scaled to Q(0) = 0.95
    private static final float SP0 = 4.749999940e-01f, SP1 = 4.163815379e-01f, SP2 = 1.740740091e-01f,
            SP3 = 3.860167414e-02f, SP4 = 3.910483792e-03f;
    private static final float SQ0 = 9.499999881e-01f, SQ1 = 1.590753794e+00f, SQ2 = 1.142381310e+00f,
            SQ3 = 4.459986687e-01f, SQ4 = 9.676617384e-02f, SQ5 = 9.802015498e-03f;

    // ------------------------------------------------------------------ the functions

    /** erf on each lane of {@code x}. */
    public static FloatVector erf(FloatVector x) {
        FloatVector s = x.abs();
        VectorMask<Float> small = s.compare(VectorOperators.LT, SMALL_LIMIT);
        FloatVector u = x.mul(x);
        FloatVector correction = u.fma(horner(u, E1, E2, E3, E4, E5), broadcast(x, C0_LO));
        FloatVector inner = x.fma(broadcast(x, C0_HI), x.mul(correction))        // x C0_HI rounded once
                .blend(x, x.compare(VectorOperators.EQ, 0f));                       // erf(-0) = -0
        if (small.allTrue()) return inner;
        FloatVector outer = erfcNonNegative(s.min(ERFC_LIMIT)).neg().add(1f);     // NaN stays NaN through min
        outer = outer.blend(outer.neg(), x.compare(VectorOperators.LT, 0f));
        return inner.blend(outer, small.not());
    }

    /** erfc on each lane of {@code x}: e<sup>-x&sup2;</sup> R(|x|), reflected as 2 - erfc(|x|) for x &lt; 0. */
    public static FloatVector erfc(FloatVector x) {
        FloatVector tail = erfcNonNegative(x.abs().min(ERFC_LIMIT));
        return tail.blend(tail.neg().add(2f), x.compare(VectorOperators.LT, 0f));
    }

    /**
     * GELU on each lane: x &middot; &Phi;(x), the exact (erf) form, as {@link UnaryOp#GELU} at float precision.
     */
    public static FloatVector gelu(FloatVector x) {
        FloatVector s = x.abs().min(GELU_LIMIT);
        FloatVector s2 = s.mul(s);
        FloatVector s2Error = s.fma(s, s2.neg());                                  // s*s = s2 + s2Error exactly
        FloatVector g = expNonPositive(s2.mul(-0.5f));
        g = g.fma(s2Error.mul(-0.5f), g);                                          // e^(-s^2/2), first-order fix
        FloatVector ratio = rational(s, s2, SP0, SP1, SP2, SP3, SP4, SQ0, SQ1, SQ2, SQ3, SQ4, SQ5);
        FloatVector upper = g.mul(ratio).neg().add(1f).mul(x);                     // x (1 - Phi(-s)), x > 0
        FloatVector lower = x.mul(ratio).mul(g);                                   // x Phi(-s): the tiny factor last
        return lower.blend(upper, x.compare(VectorOperators.GT, 0f));
    }

    /**
     * The F32 GELU row: {@code out[outOff + i] = gelu(x[xOff + i])} for i &lt; n, the same lane operations as
     * {@link #gelu(FloatVector)} in the same order (so the same bits), the last {@code n % lanes} elements in one
     * masked step so that every element goes through the same lanes. The lane code is written out in the loop
     * body rather than called: the JIT keeps vectors in registers only across calls it inlines, and it does not
     * reliably inline methods of this size (a call it does not inline passes each vector as a boxed object,
     * about five times slower).
     */
    static void gelu(float[] x, int xOff, float[] out, int outOff, int n) {
        VectorSpecies<Float> fs = FloatVector.SPECIES_PREFERRED;
        int i = 0;
        FloatVector one = FloatVector.broadcast(fs, 1f);
        for (int bound = fs.loopBound(n); i < bound; i += fs.length()) {
            FloatVector v = FloatVector.fromArray(fs, x, xOff + i);
            // --- gelu(v), written out
            FloatVector s = v.abs().min(GELU_LIMIT);
            FloatVector s2 = s.mul(s);
            FloatVector s2Error = s.fma(s, s2.neg());
            // expNonPositive(s2 * -0.5)
            FloatVector a = s2.mul(-0.5f);
            FloatVector en = a.fma(LOG2E, ROUND_MAGIC).sub(ROUND_MAGIC);
            FloatVector minusN = en.neg();
            FloatVector r = minusN.mul(LN2_HI).add(a);
            r = minusN.fma(FloatVector.broadcast(fs, LN2_LO), r);
            FloatVector p = r.fma(EXP5, EXP4);
            p = p.fma(r, FloatVector.broadcast(fs, EXP3));
            p = p.fma(r, FloatVector.broadcast(fs, EXP2));
            p = p.fma(r, FloatVector.broadcast(fs, EXP1));
            p = p.fma(r, FloatVector.broadcast(fs, EXP0));
            FloatVector er = p.fma(r.mul(r), r).add(1f);
            IntVector ni = (IntVector) en.convert(VectorOperators.F2I, 0);
            IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
            FloatVector scale1 = half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector scale2 = ni.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector g = er.mul(scale1).mul(scale2);
            g = g.fma(s2Error.mul(-0.5f), g);
            // rational(s, s2, S...)
            FloatVector pEven = s2.fma(SP4, SP2).fma(s2, FloatVector.broadcast(fs, SP0));
            FloatVector pOdd = s2.fma(SP3, SP1);
            FloatVector num = pOdd.fma(s, pEven);
            FloatVector qEven = s2.fma(SQ4, SQ2).fma(s2, FloatVector.broadcast(fs, SQ0));
            FloatVector qOdd = s2.fma(SQ5, SQ3).fma(s2, FloatVector.broadcast(fs, SQ1));
            FloatVector ratio = num.div(qOdd.fma(s, qEven));
            FloatVector upper = g.mul(ratio).neg().add(one).mul(v);
            FloatVector lower = v.mul(ratio).mul(g);
            lower.blend(upper, v.compare(VectorOperators.GT, 0f)).intoArray(out, outOff + i);
        }
        if (i < n) {
            VectorMask<Float> tail = fs.indexInRange(i, n);
            gelu(FloatVector.fromArray(fs, x, xOff + i, tail)).intoArray(out, outOff + i, tail);
        }
    }

    /** erfc(z) for lanes 0 &le; z &le; {@link #ERFC_LIMIT} (or NaN). */
    private static FloatVector erfcNonNegative(FloatVector z) {
        FloatVector z2 = z.mul(z);
        FloatVector z2Error = z.fma(z, z2.neg());
        FloatVector g = expNonPositive(z2.neg());
        g = g.fma(z2Error.neg(), g);                                               // e^(-z^2)
        return g.mul(rational(z, z2, RP0, RP1, RP2, RP3, RP4, RQ0, RQ1, RQ2, RQ3, RQ4, RQ5));
    }

    /**
     * (p0 + p1 z + ... + p4 z<sup>4</sup>) / (q0 + q1 z + ... + q5 z<sup>5</sup>), each polynomial as its even
     * part plus z times its odd part, both in z&sup2;. Both polynomials are scaled so that they start at a
     * significand of 1.9 (P(0) = Q(0) = 1.9 for R, 0.475 and 0.95 for S): near z = 0 the ratio lies just below
     * a power of two, and numerator and denominator just above one would each round with an error twice as
     * large, relative to the result's ulp.
     */
    private static FloatVector rational(FloatVector z, FloatVector z2, float p0, float p1, float p2, float p3, float p4,
                                        float q0, float q1, float q2, float q3, float q4, float q5) {
        FloatVector pEven = z2.fma(p4, p2).fma(z2, broadcast(z, p0));
        FloatVector pOdd = z2.fma(p3, p1);
        FloatVector p = pOdd.fma(z, pEven);
        FloatVector qEven = z2.fma(q4, q2).fma(z2, broadcast(z, q0));
        FloatVector qOdd = z2.fma(q5, q3).fma(z2, broadcast(z, q1));
        FloatVector q = qOdd.fma(z, qEven);
        return p.div(q);
    }

    /** c1 + c2 u + ... + c5 u<sup>4</sup> by Horner's rule. */
    private static FloatVector horner(FloatVector u, float c1, float c2, float c3, float c4, float c5) {
        FloatVector p = u.fma(c5, c4);
        p = p.fma(u, broadcast(u, c3));
        p = p.fma(u, broadcast(u, c2));
        return p.fma(u, broadcast(u, c1));
    }

    private static FloatVector broadcast(FloatVector like, float v) {
        return FloatVector.broadcast(like.species(), v);
    }

    // ------------------------------------------------------------------ e^a for a <= 0

    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 in two parts: n * LN2_HI is exact for |n| &lt; 2^11 (LN2_HI has 12 significant bits). */
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 &middot; 2<sup>23</sup>: adding and subtracting it rounds |v| &lt; 2<sup>22</sup> to an integer. */
    private static final float ROUND_MAGIC = 12582912f;
    /** e^r = 1 + r + r^2 (EXP0 + EXP1 r + ... + EXP5 r^5) on |r| &le; ln2 / 2. */
    private static final float EXP0 = 5.0000001201e-1f, EXP1 = 1.6666665459e-1f, EXP2 = 4.1665795894e-2f,
            EXP3 = 8.3334519073e-3f, EXP4 = 1.3981999507e-3f, EXP5 = 1.9875691500e-4f;

    /**
     * e<sup>a</sup> for lanes -120 &le; a &le; 0 (or NaN), about 1 ulp, subnormal results included. Cody and
     * Waite reduction {@code n = round(a log2 e)}, {@code r = a - n ln 2} (exact in two steps),
     * {@code e^r ~= 1 + r + r^2 P(r)} on |r| &le; ln2 / 2 (Cephes' degree-5 P), and the scale 2<sup>n</sup>
     * applied as two factors 2<sup>n/2</sup> so that subnormal results round once, correctly.
     */
    static FloatVector expNonPositive(FloatVector a) {
        FloatVector n = a.fma(LOG2E, ROUND_MAGIC).sub(ROUND_MAGIC);
        FloatVector minusN = n.neg();
        FloatVector r = minusN.mul(LN2_HI).add(a);                              // exact: n * LN2_HI has spare bits
        r = minusN.fma(broadcast(r, LN2_LO), r);
        FloatVector p = r.fma(EXP5, EXP4);
        p = p.fma(r, broadcast(r, EXP3));
        p = p.fma(r, broadcast(r, EXP2));
        p = p.fma(r, broadcast(r, EXP1));
        p = p.fma(r, broadcast(r, EXP0));
        FloatVector er = p.fma(r.mul(r), r).add(1f);
        IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
        IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
        FloatVector scale1 = half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector scale2 = ni.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return er.mul(scale1).mul(scale2);
    }
}
