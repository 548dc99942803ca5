package dev.moe4j.kernels.cpu.moe;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API loops over one row of floats, shared by the fast MoE kernels. Each has a full-vector main loop
 * and a tail for the last {@code n % lanes} elements: scalar where the scalar expression rounds exactly like
 * a lane does, a masked vector step where it would not (softmax, sigmoid: the exponential).
 *
 * <p>{@link #scale}, {@link #axpy} and {@link #add} use a separate multiply and add (no fused multiply-add),
 * so every element is rounded exactly as the scalar expression {@code y + a * x} is in Java: the fast kernels
 * built on them give the same bits as their scalar references.
 *
 * <p>Every result here is a fixed sequence of IEEE operations, so it does not change between runs, thread
 * splits or JIT tiers: reductions add lanes in a fixed order ({@link #sumLanes}) and the exponential is our
 * own ({@link #exp}).
 */
final class VectorRows {
    private VectorRows() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** y[yOff + i] = a * x[xOff + i] for i in [0, n). */
    static void scale(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).mul(a).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] = a * x[xOff + i];
    }

    /** y[yOff + i] += a * x[xOff + i] for i in [0, n) (multiply, then add). */
    static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            FloatVector.fromArray(F, y, yOff + i).add(xv.mul(a)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    /** y[yOff + i] += x[xOff + i] for i in [0, n). */
    static void add(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            FloatVector.fromArray(F, y, yOff + i).add(FloatVector.fromArray(F, x, xOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += x[xOff + i];
    }

    /**
     * y[yOff + i] = x[offs[0] + i] + x[offs[1] + i] + ... + x[offs[m - 1] + i] for i in [0, n), added left to
     * right, m &ge; 1 (the sum of m rows of x, in the given order). One pass over the columns: per chunk of
     * columns, one load per source row, the additions in registers, one store, so y is written once and never
     * read. For m &gt; 2 a chunk is four vectors, so each visit to a source row (its offset, its bounds) serves
     * four loads.
     */
    static void sumRows(float[] x, int[] offs, int m, float[] y, int yOff, int n) {
        if (m == 1) {
            System.arraycopy(x, offs[0], y, yOff, n);
            return;
        }
        int o0 = offs[0], o1 = offs[1];
        int i = 0;
        int end = F.loopBound(n);
        if (m == 2) {
            for (; i < end; i += F.length()) {
                FloatVector.fromArray(F, x, o0 + i).add(FloatVector.fromArray(F, x, o1 + i)).intoArray(y, yOff + i);
            }
            for (; i < n; i++) y[yOff + i] = x[o0 + i] + x[o1 + i];
            return;
        }
        int lanes = F.length();
        for (int blockEnd = n - 4 * lanes; i <= blockEnd; i += 4 * lanes) {      // four vectors per source visit
            FloatVector a0 = FloatVector.fromArray(F, x, o0 + i), a1 = FloatVector.fromArray(F, x, o0 + i + lanes);
            FloatVector a2 = FloatVector.fromArray(F, x, o0 + i + 2 * lanes), a3 = FloatVector.fromArray(F, x, o0 + i + 3 * lanes);
            for (int j = 1; j < m; j++) {
                int o = offs[j] + i;
                a0 = a0.add(FloatVector.fromArray(F, x, o));
                a1 = a1.add(FloatVector.fromArray(F, x, o + lanes));
                a2 = a2.add(FloatVector.fromArray(F, x, o + 2 * lanes));
                a3 = a3.add(FloatVector.fromArray(F, x, o + 3 * lanes));
            }
            a0.intoArray(y, yOff + i);
            a1.intoArray(y, yOff + i + lanes);
            a2.intoArray(y, yOff + i + 2 * lanes);
            a3.intoArray(y, yOff + i + 3 * lanes);
        }
        for (; i < end; i += lanes) {
            FloatVector acc = FloatVector.fromArray(F, x, o0 + i).add(FloatVector.fromArray(F, x, o1 + i));
            for (int j = 2; j < m; j++) acc = acc.add(FloatVector.fromArray(F, x, offs[j] + i));
            acc.intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            float acc = x[o0 + i] + x[o1 + i];
            for (int j = 2; j < m; j++) acc += x[offs[j] + i];
            y[yOff + i] = acc;
        }
    }

    /** sum_i a[aOff + i] * b[bOff + i], lane-wise partial sums (fused multiply-add) reduced at the end. */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float sum = sumLanes(acc);
        for (; i < n; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }

    /**
     * One pass for combine's backward: {@code out[outOff + i] = a * g[gOff + i]} (as {@link #scale}) and returns
     * {@code sum_i g[gOff + i] * v[vOff + i]} (as {@link #dot}), reading the row g once.
     */
    static float scaleAndDot(float a, float[] g, int gOff, float[] out, int outOff, float[] v, int vOff, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            FloatVector gv = FloatVector.fromArray(F, g, gOff + i);
            acc = gv.fma(FloatVector.fromArray(F, v, vOff + i), acc);
            gv.mul(a).intoArray(out, outOff + i);
        }
        float sum = sumLanes(acc);
        for (; i < n; i++) {
            sum += g[gOff + i] * v[vOff + i];
            out[outOff + i] = a * g[gOff + i];
        }
        return sum;
    }

    /**
     * Combine's backward for the m kept slots of one token, m &ge; 0: for each slot j,
     * {@code out[offs[j] + i] = a[j] * g[gOff + i]} for i in [0, n) (as {@link #scale}) and
     * {@code dots[j] = sum_i g[gOff + i] * v[offs[j] + i]} (as {@link #dot}: the same lane-wise fused
     * multiply-adds in the same order, the same lane sum, the same scalar tail, so the same bits). The rows of
     * out and v sit at the same offsets. The slots go in groups of four (then two, then one): one pass over the
     * columns per group that loads the chunk of g once and serves every slot of the group from it, with one
     * accumulator register per slot, so the group's rows of v are read and its rows of out written side by side.
     */
    static void scaleRowsAndDots(float[] g, int gOff, float[] a, int[] offs, int m, float[] out, float[] v,
                                 float[] dots, int n) {
        int j = 0;
        for (; j + 4 <= m; j += 4) scaleAndDot4(g, gOff, a, offs, j, out, v, dots, n);
        if (j + 2 <= m) {
            scaleAndDot2(g, gOff, a, offs, j, out, v, dots, n);
            j += 2;
        }
        if (j < m) dots[j] = scaleAndDot(a[j], g, gOff, out, offs[j], v, offs[j], n);
    }

    /** {@link #scaleRowsAndDots} for the slots j .. j + 3. */
    private static void scaleAndDot4(float[] g, int gOff, float[] a, int[] offs, int j, float[] out, float[] v,
                                     float[] dots, int n) {
        int o0 = offs[j], o1 = offs[j + 1], o2 = offs[j + 2], o3 = offs[j + 3];
        float a0 = a[j], a1 = a[j + 1], a2 = a[j + 2], a3 = a[j + 3];
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            FloatVector gv = FloatVector.fromArray(F, g, gOff + i);
            s0 = gv.fma(FloatVector.fromArray(F, v, o0 + i), s0);
            gv.mul(a0).intoArray(out, o0 + i);
            s1 = gv.fma(FloatVector.fromArray(F, v, o1 + i), s1);
            gv.mul(a1).intoArray(out, o1 + i);
            s2 = gv.fma(FloatVector.fromArray(F, v, o2 + i), s2);
            gv.mul(a2).intoArray(out, o2 + i);
            s3 = gv.fma(FloatVector.fromArray(F, v, o3 + i), s3);
            gv.mul(a3).intoArray(out, o3 + i);
        }
        float d0 = sumLanes(s0), d1 = sumLanes(s1), d2 = sumLanes(s2), d3 = sumLanes(s3);
        for (; i < n; i++) {
            float gi = g[gOff + i];
            d0 += gi * v[o0 + i];
            out[o0 + i] = a0 * gi;
            d1 += gi * v[o1 + i];
            out[o1 + i] = a1 * gi;
            d2 += gi * v[o2 + i];
            out[o2 + i] = a2 * gi;
            d3 += gi * v[o3 + i];
            out[o3 + i] = a3 * gi;
        }
        dots[j] = d0;
        dots[j + 1] = d1;
        dots[j + 2] = d2;
        dots[j + 3] = d3;
    }

    /** {@link #scaleRowsAndDots} for the slots j and j + 1. */
    private static void scaleAndDot2(float[] g, int gOff, float[] a, int[] offs, int j, float[] out, float[] v,
                                     float[] dots, int n) {
        int o0 = offs[j], o1 = offs[j + 1];
        float a0 = a[j], a1 = a[j + 1];
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        int i = 0;
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            FloatVector gv = FloatVector.fromArray(F, g, gOff + i);
            s0 = gv.fma(FloatVector.fromArray(F, v, o0 + i), s0);
            gv.mul(a0).intoArray(out, o0 + i);
            s1 = gv.fma(FloatVector.fromArray(F, v, o1 + i), s1);
            gv.mul(a1).intoArray(out, o1 + i);
        }
        float d0 = sumLanes(s0), d1 = sumLanes(s1);
        for (; i < n; i++) {
            float gi = g[gOff + i];
            d0 += gi * v[o0 + i];
            out[o0 + i] = a0 * gi;
            d1 += gi * v[o1 + i];
            out[o1 + i] = a1 * gi;
        }
        dots[j] = d0;
        dots[j + 1] = d1;
    }

    /**
     * The sum of the lanes, added left to right. ({@code reduceLanes(ADD)} leaves the order open, and the
     * compiled and interpreted forms do use different orders, so its float result may change with warm-up.)
     */
    static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }

    /** max_i x[off + i] over n >= 1 elements (NaN if any is NaN). */
    static float max(float[] x, int off, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= F.length()) {
            FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (int end = F.loopBound(n); i < end; i += F.length()) {
                acc = acc.max(FloatVector.fromArray(F, x, off + i));
            }
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) m = Math.max(m, x[off + i]);
        return m;
    }

    /**
     * out[outOff + i] = softmax(x[xOff .. xOff + n))[i], n >= 1: max-shifted exponentials over their sum. The
     * tail goes through the same vector exponential under a lane mask, so equal inputs anywhere in the row
     * give equal outputs (top-k ties stay ties).
     */
    static void softmax(float[] x, int xOff, float[] out, int outOff, int n) {
        float m = max(x, xOff, n);
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            FloatVector e = exp(FloatVector.fromArray(F, x, xOff + i).sub(m));
            e.intoArray(out, outOff + i);
            acc = acc.add(e);
        }
        if (i < n) {
            VectorMask<Float> tail = F.indexInRange(i, n);
            FloatVector e = exp(FloatVector.fromArray(F, x, xOff + i, tail).sub(m));
            e.intoArray(out, outOff + i, tail);
            acc = acc.add(e, tail);
        }
        float sum = sumLanes(acc);
        scale(1f / sum, out, outOff, out, outOff, n);
    }

    /**
     * out[outOff + i] = 1 / (1 + exp(-x[xOff + i])) for i in [0, n); the tail is masked like {@link #softmax}'s.
     */
    static void sigmoid(float[] x, int xOff, float[] out, int outOff, int n) {
        int i = 0;
        FloatVector one = FloatVector.broadcast(F, 1f);
        for (int end = F.loopBound(n); i < end; i += F.length()) {
            FloatVector e = exp(FloatVector.fromArray(F, x, xOff + i).neg());
            one.div(one.add(e)).intoArray(out, outOff + i);
        }
        if (i < n) {
            VectorMask<Float> tail = F.indexInRange(i, n);
            FloatVector e = exp(FloatVector.fromArray(F, x, xOff + i, tail).neg());
            one.div(one.add(e)).intoArray(out, outOff + i, tail);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // exp from IEEE operations
    // ---------------------------------------------------------------------------------------------

    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 split in two: LN2_HI has few mantissa bits so that n * LN2_HI is exact for |n| <= 256. */
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude < 2^22 to the nearest integer. */
    private static final float ROUND_MAGIC = 12582912f;
    /** Below this, e^x < 2^-150 rounds to 0; above the upper clamp, e^x overflows to infinity anyway. */
    private static final float EXP_LOW = -104f;
    private static final float EXP_HIGH = 89f;

    /**
     * e^x lane-wise, built only from IEEE-exact lane operations (add, multiply, fused multiply-add, integer
     * shifts), so it returns the same bits in every execution tier and on every lane position. (The Vector
     * API's own {@code VectorOperators.EXP} may use a different approximation once compiled than when
     * interpreted, which would make results depend on warm-up and turn exact ties into near-ties.)
     *
     * <p>Algorithm (Cody and Waite range reduction with a Cephes-style polynomial, about 1 ulp):
     * {@code n = round(x * log2 e)}, {@code r = x - n ln 2} computed in two parts so that r is exact,
     * {@code e^r ~= 1 + r + r^2 P(r)} on {@code |r| <= ln2 / 2}, and the result is {@code e^r * 2^n}, with
     * 2^n applied as two factors {@code 2^(n >> 1) * 2^(n - (n >> 1))} so that subnormal results and overflow
     * to infinity come out right. NaN stays NaN, {@code e^-inf = 0}, {@code e^+inf = inf}.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_LOW).min(EXP_HIGH);                  // NaN passes through max / min
        FloatVector n = xc.mul(LOG2E).add(ROUND_MAGIC).sub(ROUND_MAGIC);
        FloatVector minusN = n.neg();
        FloatVector r = minusN.fma(c(LN2_HI), xc);                      // exact: n * LN2_HI has spare bits
        r = minusN.fma(c(LN2_LO), r);
        FloatVector p = c(1.9875691500e-4f);
        p = p.fma(r, c(1.3981999507e-3f));
        p = p.fma(r, c(8.3334519073e-3f));
        p = p.fma(r, c(4.1665795894e-2f));
        p = p.fma(r, c(1.6666665459e-1f));
        p = p.fma(r, c(5.0000001201e-1f));
        FloatVector er = p.mul(r.mul(r)).add(r).add(1f);               // e^r = 1 + r + r^2 P(r)
        IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
        IntVector half = ni.lanewise(VectorOperators.ASHR, 1);
        FloatVector scale1 = half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector scale2 = ni.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector result = er.mul(scale1).mul(scale2);
        return result.blend(0f, x.compare(VectorOperators.LE, EXP_LOW));
    }

    private static FloatVector c(float v) {
        return FloatVector.broadcast(F, v);
    }
}
