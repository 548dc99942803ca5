package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Elementwise kernels with two or three operands: arithmetic ({@link BinaryOp}), comparisons
 * ({@link CompareOp}), selection ({@code where}), and the in-place updates {@code y += alpha x}
 * (axpy) and {@code y *= s} (scale).
 *
 * <pre>
 *   row form:  a[aOff + i*aStride], b[bOff + i*bStride]  (i &lt; n)  -&gt;  out[outOff + i]
 *   n-d form:  a, b viewed as shape [d0..dk-1] with their strides     -&gt;  out dense row-major
 * </pre>
 * Broadcasting is expressed with stride 0: the caller expands both operands to the output shape.
 *
 * <p>Algorithm: the n-d form merges dims into the longest rows it can ({@link RowLoop}) and runs the
 * row form per row. The row form takes the Vector API path when every input stride is 0 or 1
 * (contiguous, or a broadcast scalar, which is read from a small buffer of lane copies) and the
 * output / updated operand is contiguous; otherwise it runs the scalar reference. Arithmetic on
 * lanes is exactly the scalar arithmetic (IEEE add/sub/mul/div, NaN-propagating max/min, fma for
 * axpy), so fast and reference results are bit-identical except {@link BinaryOp#POW}, whose lanes
 * are within about one ulp.
 *
 * <p>Arrays: {@code float[]}, {@code double[]} (Vector API) and {@code long[]} (integer semantics of
 * {@link BinaryOp#apply(long, long)}, scalar only); the operands of one call share one type.
 * Conditions and comparison results are {@code byte[]} holding 0 or 1.
 */
public final class BinaryKernels {
    private BinaryKernels() {}

    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;
    /** Bytes with as many lanes as {@link #FS} / {@link #DS} (null when no such shape exists: then masks go through the scalar path). */
    static final VectorSpecies<Byte> BS_F = byteSpeciesWithLanes(FS.length());
    static final VectorSpecies<Byte> BS_D = byteSpeciesWithLanes(DS.length());

    private static VectorSpecies<Byte> byteSpeciesWithLanes(int lanes) {
        try {
            return VectorSpecies.of(byte.class, VectorShape.forBitSize(lanes * 8));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    // =================================================================== scalar reference: arithmetic

    /** out[outOff + i] = op(a[aOff + i*aStride], b[bOff + i*bStride]) for i &lt; n. */
    public static void applyReference(BinaryOp op, float[] a, int aOff, int aStride, float[] b, int bOff, int bStride, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = op.apply(a[aOff + i * aStride], b[bOff + i * bStride]);
    }

    /** out[outOff + i] = op(a[aOff + i*aStride], b[bOff + i*bStride]) for i &lt; n. */
    public static void applyReference(BinaryOp op, double[] a, int aOff, int aStride, double[] b, int bOff, int bStride, double[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = op.apply(a[aOff + i * aStride], b[bOff + i * bStride]);
    }

    /** Integer form (wrapping; see {@link BinaryOp#apply(long, long)}). */
    public static void applyReference(BinaryOp op, long[] a, int aOff, int aStride, long[] b, int bOff, int bStride, long[] out, int outOff, int n) {
        if (op == BinaryOp.DIV) op.apply(0L, 1L);                // rejects integer DIV before any work
        for (int i = 0; i < n; i++) out[outOff + i] = op.apply(a[aOff + i * aStride], b[bOff + i * bStride]);
    }

    /** n-d scalar reference: out (dense over {@code shape}) = op(a, b), both viewed with their strides. */
    public static void applyReference(BinaryOp op, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides, Object out, int outOff, int[] shape) {
        walkBinary(op, a, aOff, aStrides, b, bOff, bStrides, out, outOff, shape, true);
    }

    // =================================================================== Vector API: arithmetic

    /** n-d form of the row kernels below. */
    public static void apply(BinaryOp op, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides, Object out, int outOff, int[] shape) {
        walkBinary(op, a, aOff, aStrides, b, bOff, bStrides, out, outOff, shape, false);
    }

    private static void walkBinary(BinaryOp op, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides,
                                   Object out, int outOff, int[] shape, boolean reference) {
        sameArrayType(a, b, out);
        if (a instanceof long[] && op == BinaryOp.DIV) op.apply(0L, 1L);
        RowLoop loop = new RowLoop(shape, new int[] {aOff, bOff, outOff}, aStrides, bStrides, RowLoop.contiguousStrides(shape));
        int n = loop.rowLength();
        for (long r = 0; r < loop.rows(); r++, loop.next()) {
            int ao = loop.offset(0), as = loop.innerStride(0), bo = loop.offset(1), bs = loop.innerStride(1), oo = loop.offset(2);
            switch (a) {
                case float[] x -> { if (reference) applyReference(op, x, ao, as, (float[]) b, bo, bs, (float[]) out, oo, n); else apply(op, x, ao, as, (float[]) b, bo, bs, (float[]) out, oo, n); }
                case double[] x -> { if (reference) applyReference(op, x, ao, as, (double[]) b, bo, bs, (double[]) out, oo, n); else apply(op, x, ao, as, (double[]) b, bo, bs, (double[]) out, oo, n); }
                case long[] x -> applyReference(op, x, ao, as, (long[]) b, bo, bs, (long[]) out, oo, n);
                default -> throw unsupported(a);
            }
        }
    }

    /** Vector API row kernel: out[outOff + i] = op(a[aOff + i*aStride], b[bOff + i*bStride]) for i &lt; n. */
    public static void apply(BinaryOp op, float[] a, int aOff, int aStride, float[] b, int bOff, int bStride, float[] out, int outOff, int n) {
        if (!unitOrZero(aStride) || !unitOrZero(bStride) || n == 0) {
            applyReference(op, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
            return;
        }
        if (aStride == 0 && bStride == 0) {
            Arrays.fill(out, outOff, outOff + n, op.apply(a[aOff], b[bOff]));
            return;
        }
        // A stride-0 operand is read from a buffer holding one vector of copies, at a fixed index.
        float[] va = aStride == 0 ? lanes(FS, a[aOff]) : a;
        float[] vb = bStride == 0 ? lanes(FS, b[bOff]) : b;
        int ao = aStride == 0 ? 0 : aOff, bo = bStride == 0 ? 0 : bOff;
        int i = 0, step = FS.length(), bound = FS.loopBound(n);
        switch (op) {
            case ADD -> { for (; i < bound; i += step) FloatVector.fromArray(FS, va, ao + i * aStride).add(FloatVector.fromArray(FS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case SUB -> { for (; i < bound; i += step) FloatVector.fromArray(FS, va, ao + i * aStride).sub(FloatVector.fromArray(FS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case MUL -> { for (; i < bound; i += step) FloatVector.fromArray(FS, va, ao + i * aStride).mul(FloatVector.fromArray(FS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case DIV -> { for (; i < bound; i += step) FloatVector.fromArray(FS, va, ao + i * aStride).div(FloatVector.fromArray(FS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case POW -> { for (; i < bound; i += step) FloatVector.fromArray(FS, va, ao + i * aStride).lanewise(VectorOperators.POW, FloatVector.fromArray(FS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case MAXIMUM -> { for (; i < bound; i += step) FloatVector.fromArray(FS, va, ao + i * aStride).max(FloatVector.fromArray(FS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case MINIMUM -> { for (; i < bound; i += step) FloatVector.fromArray(FS, va, ao + i * aStride).min(FloatVector.fromArray(FS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
        }
        applyReference(op, a, aOff + i * aStride, aStride, b, bOff + i * bStride, bStride, out, outOff + i, n - i);
    }

    /** Vector API row kernel: out[outOff + i] = op(a[aOff + i*aStride], b[bOff + i*bStride]) for i &lt; n. */
    public static void apply(BinaryOp op, double[] a, int aOff, int aStride, double[] b, int bOff, int bStride, double[] out, int outOff, int n) {
        if (!unitOrZero(aStride) || !unitOrZero(bStride) || n == 0) {
            applyReference(op, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
            return;
        }
        if (aStride == 0 && bStride == 0) {
            Arrays.fill(out, outOff, outOff + n, op.apply(a[aOff], b[bOff]));
            return;
        }
        double[] va = aStride == 0 ? lanes(DS, a[aOff]) : a;
        double[] vb = bStride == 0 ? lanes(DS, b[bOff]) : b;
        int ao = aStride == 0 ? 0 : aOff, bo = bStride == 0 ? 0 : bOff;
        int i = 0, step = DS.length(), bound = DS.loopBound(n);
        switch (op) {
            case ADD -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, va, ao + i * aStride).add(DoubleVector.fromArray(DS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case SUB -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, va, ao + i * aStride).sub(DoubleVector.fromArray(DS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case MUL -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, va, ao + i * aStride).mul(DoubleVector.fromArray(DS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case DIV -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, va, ao + i * aStride).div(DoubleVector.fromArray(DS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case POW -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, va, ao + i * aStride).lanewise(VectorOperators.POW, DoubleVector.fromArray(DS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case MAXIMUM -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, va, ao + i * aStride).max(DoubleVector.fromArray(DS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
            case MINIMUM -> { for (; i < bound; i += step) DoubleVector.fromArray(DS, va, ao + i * aStride).min(DoubleVector.fromArray(DS, vb, bo + i * bStride)).intoArray(out, outOff + i); }
        }
        applyReference(op, a, aOff + i * aStride, aStride, b, bOff + i * bStride, bStride, out, outOff + i, n - i);
    }

    /** Integer row kernel (scalar). */
    public static void apply(BinaryOp op, long[] a, int aOff, int aStride, long[] b, int bOff, int bStride, long[] out, int outOff, int n) {
        applyReference(op, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
    }

    // =================================================================== comparisons

    /** out[outOff + i] = (a[aOff + i*aStride] op b[bOff + i*bStride]) ? 1 : 0 for i &lt; n. */
    public static void compareReference(CompareOp op, float[] a, int aOff, int aStride, float[] b, int bOff, int bStride, byte[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = (byte) (op.test(a[aOff + i * aStride], b[bOff + i * bStride]) ? 1 : 0);
    }

    /** Double form of {@link #compareReference(CompareOp, float[], int, int, float[], int, int, byte[], int, int)}. */
    public static void compareReference(CompareOp op, double[] a, int aOff, int aStride, double[] b, int bOff, int bStride, byte[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = (byte) (op.test(a[aOff + i * aStride], b[bOff + i * bStride]) ? 1 : 0);
    }

    /** Integer form. */
    public static void compareReference(CompareOp op, long[] a, int aOff, int aStride, long[] b, int bOff, int bStride, byte[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = (byte) (op.test(a[aOff + i * aStride], b[bOff + i * bStride]) ? 1 : 0);
    }

    /** n-d scalar reference: out (dense bytes over {@code shape}) = a op b. */
    public static void compareReference(CompareOp op, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides, byte[] out, int outOff, int[] shape) {
        walkCompare(op, a, aOff, aStrides, b, bOff, bStrides, out, outOff, shape, true);
    }

    /** n-d form of the comparison row kernels. */
    public static void compare(CompareOp op, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides, byte[] out, int outOff, int[] shape) {
        walkCompare(op, a, aOff, aStrides, b, bOff, bStrides, out, outOff, shape, false);
    }

    private static void walkCompare(CompareOp op, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides,
                                    byte[] out, int outOff, int[] shape, boolean reference) {
        sameArrayType(a, b, a);
        RowLoop loop = new RowLoop(shape, new int[] {aOff, bOff, outOff}, aStrides, bStrides, RowLoop.contiguousStrides(shape));
        int n = loop.rowLength();
        for (long r = 0; r < loop.rows(); r++, loop.next()) {
            int ao = loop.offset(0), as = loop.innerStride(0), bo = loop.offset(1), bs = loop.innerStride(1), oo = loop.offset(2);
            switch (a) {
                case float[] x -> { if (reference) compareReference(op, x, ao, as, (float[]) b, bo, bs, out, oo, n); else compare(op, x, ao, as, (float[]) b, bo, bs, out, oo, n); }
                case double[] x -> { if (reference) compareReference(op, x, ao, as, (double[]) b, bo, bs, out, oo, n); else compare(op, x, ao, as, (double[]) b, bo, bs, out, oo, n); }
                case long[] x -> compareReference(op, x, ao, as, (long[]) b, bo, bs, out, oo, n);
                default -> throw unsupported(a);
            }
        }
    }

    /** Vector API row kernel for comparisons of floats. */
    public static void compare(CompareOp op, float[] a, int aOff, int aStride, float[] b, int bOff, int bStride, byte[] out, int outOff, int n) {
        if (BS_F == null || !unitOrZero(aStride) || !unitOrZero(bStride) || n == 0) {
            compareReference(op, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
            return;
        }
        float[] va = aStride == 0 ? lanes(FS, a[aOff]) : a;
        float[] vb = bStride == 0 ? lanes(FS, b[bOff]) : b;
        int ao = aStride == 0 ? 0 : aOff, bo = bStride == 0 ? 0 : bOff;
        ByteVector zero = ByteVector.zero(BS_F);
        int i = 0, step = FS.length(), bound = FS.loopBound(n);
        switch (op) {                                              // one loop per constant comparison, so each is intrinsified
            case EQ -> { for (; i < bound; i += step) storeMask(FloatVector.fromArray(FS, va, ao + i * aStride).compare(VectorOperators.EQ, FloatVector.fromArray(FS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case NE -> { for (; i < bound; i += step) storeMask(FloatVector.fromArray(FS, va, ao + i * aStride).compare(VectorOperators.NE, FloatVector.fromArray(FS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case LT -> { for (; i < bound; i += step) storeMask(FloatVector.fromArray(FS, va, ao + i * aStride).compare(VectorOperators.LT, FloatVector.fromArray(FS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case LE -> { for (; i < bound; i += step) storeMask(FloatVector.fromArray(FS, va, ao + i * aStride).compare(VectorOperators.LE, FloatVector.fromArray(FS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case GT -> { for (; i < bound; i += step) storeMask(FloatVector.fromArray(FS, va, ao + i * aStride).compare(VectorOperators.GT, FloatVector.fromArray(FS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case GE -> { for (; i < bound; i += step) storeMask(FloatVector.fromArray(FS, va, ao + i * aStride).compare(VectorOperators.GE, FloatVector.fromArray(FS, vb, bo + i * bStride)), zero, out, outOff + i); }
        }
        compareReference(op, a, aOff + i * aStride, aStride, b, bOff + i * bStride, bStride, out, outOff + i, n - i);
    }

    /** Vector API row kernel for comparisons of doubles. */
    public static void compare(CompareOp op, double[] a, int aOff, int aStride, double[] b, int bOff, int bStride, byte[] out, int outOff, int n) {
        if (BS_D == null || !unitOrZero(aStride) || !unitOrZero(bStride) || n == 0) {
            compareReference(op, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
            return;
        }
        double[] va = aStride == 0 ? lanes(DS, a[aOff]) : a;
        double[] vb = bStride == 0 ? lanes(DS, b[bOff]) : b;
        int ao = aStride == 0 ? 0 : aOff, bo = bStride == 0 ? 0 : bOff;
        ByteVector zero = ByteVector.zero(BS_D);
        int i = 0, step = DS.length(), bound = DS.loopBound(n);
        switch (op) {
            case EQ -> { for (; i < bound; i += step) storeMask(DoubleVector.fromArray(DS, va, ao + i * aStride).compare(VectorOperators.EQ, DoubleVector.fromArray(DS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case NE -> { for (; i < bound; i += step) storeMask(DoubleVector.fromArray(DS, va, ao + i * aStride).compare(VectorOperators.NE, DoubleVector.fromArray(DS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case LT -> { for (; i < bound; i += step) storeMask(DoubleVector.fromArray(DS, va, ao + i * aStride).compare(VectorOperators.LT, DoubleVector.fromArray(DS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case LE -> { for (; i < bound; i += step) storeMask(DoubleVector.fromArray(DS, va, ao + i * aStride).compare(VectorOperators.LE, DoubleVector.fromArray(DS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case GT -> { for (; i < bound; i += step) storeMask(DoubleVector.fromArray(DS, va, ao + i * aStride).compare(VectorOperators.GT, DoubleVector.fromArray(DS, vb, bo + i * bStride)), zero, out, outOff + i); }
            case GE -> { for (; i < bound; i += step) storeMask(DoubleVector.fromArray(DS, va, ao + i * aStride).compare(VectorOperators.GE, DoubleVector.fromArray(DS, vb, bo + i * bStride)), zero, out, outOff + i); }
        }
        compareReference(op, a, aOff + i * aStride, aStride, b, bOff + i * bStride, bStride, out, outOff + i, n - i);
    }

    /** Integer comparison row kernel (scalar). */
    public static void compare(CompareOp op, long[] a, int aOff, int aStride, long[] b, int bOff, int bStride, byte[] out, int outOff, int n) {
        compareReference(op, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
    }

    private static <E> void storeMask(VectorMask<E> m, ByteVector zero, byte[] out, int off) {
        zero.blend((byte) 1, m.cast(zero.species())).intoArray(out, off);
    }

    // =================================================================== selection (where)

    /** out[outOff + i] = cond[cOff + i*cStride] != 0 ? a[aOff + i*aStride] : b[bOff + i*bStride] for i &lt; n. */
    public static void selectReference(byte[] cond, int cOff, int cStride, float[] a, int aOff, int aStride, float[] b, int bOff, int bStride, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = cond[cOff + i * cStride] != 0 ? a[aOff + i * aStride] : b[bOff + i * bStride];
    }

    /** Double form. */
    public static void selectReference(byte[] cond, int cOff, int cStride, double[] a, int aOff, int aStride, double[] b, int bOff, int bStride, double[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = cond[cOff + i * cStride] != 0 ? a[aOff + i * aStride] : b[bOff + i * bStride];
    }

    /** Integer form. */
    public static void selectReference(byte[] cond, int cOff, int cStride, long[] a, int aOff, int aStride, long[] b, int bOff, int bStride, long[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = cond[cOff + i * cStride] != 0 ? a[aOff + i * aStride] : b[bOff + i * bStride];
    }

    /** n-d scalar reference: out (dense over {@code shape}) = cond ? a : b, all three viewed with their strides. */
    public static void selectReference(byte[] cond, int cOff, int[] cStrides, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides, Object out, int outOff, int[] shape) {
        walkSelect(cond, cOff, cStrides, a, aOff, aStrides, b, bOff, bStrides, out, outOff, shape, true);
    }

    /** n-d form of the selection row kernels. */
    public static void select(byte[] cond, int cOff, int[] cStrides, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides, Object out, int outOff, int[] shape) {
        walkSelect(cond, cOff, cStrides, a, aOff, aStrides, b, bOff, bStrides, out, outOff, shape, false);
    }

    private static void walkSelect(byte[] cond, int cOff, int[] cStrides, Object a, int aOff, int[] aStrides, Object b, int bOff, int[] bStrides,
                                   Object out, int outOff, int[] shape, boolean reference) {
        sameArrayType(a, b, out);
        RowLoop loop = new RowLoop(shape, new int[] {cOff, aOff, bOff, outOff}, cStrides, aStrides, bStrides, RowLoop.contiguousStrides(shape));
        int n = loop.rowLength();
        for (long r = 0; r < loop.rows(); r++, loop.next()) {
            int co = loop.offset(0), cs = loop.innerStride(0), ao = loop.offset(1), as = loop.innerStride(1);
            int bo = loop.offset(2), bs = loop.innerStride(2), oo = loop.offset(3);
            switch (a) {
                case float[] x -> { if (reference) selectReference(cond, co, cs, x, ao, as, (float[]) b, bo, bs, (float[]) out, oo, n); else select(cond, co, cs, x, ao, as, (float[]) b, bo, bs, (float[]) out, oo, n); }
                case double[] x -> { if (reference) selectReference(cond, co, cs, x, ao, as, (double[]) b, bo, bs, (double[]) out, oo, n); else select(cond, co, cs, x, ao, as, (double[]) b, bo, bs, (double[]) out, oo, n); }
                case long[] x -> selectReference(cond, co, cs, x, ao, as, (long[]) b, bo, bs, (long[]) out, oo, n);
                default -> throw unsupported(a);
            }
        }
    }

    /** Vector API row kernel: out = cond ? a : b on floats (lane blend under a mask read from the condition bytes). */
    public static void select(byte[] cond, int cOff, int cStride, float[] a, int aOff, int aStride, float[] b, int bOff, int bStride, float[] out, int outOff, int n) {
        if (BS_F == null || cStride != 1 || !unitOrZero(aStride) || !unitOrZero(bStride) || n == 0) {
            selectReference(cond, cOff, cStride, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
            return;
        }
        float[] va = aStride == 0 ? lanes(FS, a[aOff]) : a;
        float[] vb = bStride == 0 ? lanes(FS, b[bOff]) : b;
        int ao = aStride == 0 ? 0 : aOff, bo = bStride == 0 ? 0 : bOff;
        int i = 0, step = FS.length(), bound = FS.loopBound(n);
        for (; i < bound; i += step) {
            VectorMask<Float> take = ByteVector.fromArray(BS_F, cond, cOff + i).compare(VectorOperators.NE, (byte) 0).cast(FS);
            FloatVector.fromArray(FS, vb, bo + i * bStride).blend(FloatVector.fromArray(FS, va, ao + i * aStride), take).intoArray(out, outOff + i);
        }
        selectReference(cond, cOff + i, 1, a, aOff + i * aStride, aStride, b, bOff + i * bStride, bStride, out, outOff + i, n - i);
    }

    /** Vector API row kernel: out = cond ? a : b on doubles. */
    public static void select(byte[] cond, int cOff, int cStride, double[] a, int aOff, int aStride, double[] b, int bOff, int bStride, double[] out, int outOff, int n) {
        if (BS_D == null || cStride != 1 || !unitOrZero(aStride) || !unitOrZero(bStride) || n == 0) {
            selectReference(cond, cOff, cStride, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
            return;
        }
        double[] va = aStride == 0 ? lanes(DS, a[aOff]) : a;
        double[] vb = bStride == 0 ? lanes(DS, b[bOff]) : b;
        int ao = aStride == 0 ? 0 : aOff, bo = bStride == 0 ? 0 : bOff;
        int i = 0, step = DS.length(), bound = DS.loopBound(n);
        for (; i < bound; i += step) {
            VectorMask<Double> take = ByteVector.fromArray(BS_D, cond, cOff + i).compare(VectorOperators.NE, (byte) 0).cast(DS);
            DoubleVector.fromArray(DS, vb, bo + i * bStride).blend(DoubleVector.fromArray(DS, va, ao + i * aStride), take).intoArray(out, outOff + i);
        }
        selectReference(cond, cOff + i, 1, a, aOff + i * aStride, aStride, b, bOff + i * bStride, bStride, out, outOff + i, n - i);
    }

    /** Integer selection row kernel (scalar). */
    public static void select(byte[] cond, int cOff, int cStride, long[] a, int aOff, int aStride, long[] b, int bOff, int bStride, long[] out, int outOff, int n) {
        selectReference(cond, cOff, cStride, a, aOff, aStride, b, bOff, bStride, out, outOff, n);
    }

    // =================================================================== axpy: y += alpha * x (in place)

    /** y[yOff + i*yStride] = fma(alpha, x[xOff + i*xStride], y[...]) for i &lt; n. */
    public static void axpyReference(float alpha, float[] x, int xOff, int xStride, float[] y, int yOff, int yStride, int n) {
        for (int i = 0; i < n; i++) y[yOff + i * yStride] = Math.fma(alpha, x[xOff + i * xStride], y[yOff + i * yStride]);
    }

    /** Double form. */
    public static void axpyReference(double alpha, double[] x, int xOff, int xStride, double[] y, int yOff, int yStride, int n) {
        for (int i = 0; i < n; i++) y[yOff + i * yStride] = Math.fma(alpha, x[xOff + i * xStride], y[yOff + i * yStride]);
    }

    /** Integer form (wrapping). */
    public static void axpyReference(long alpha, long[] x, int xOff, int xStride, long[] y, int yOff, int yStride, int n) {
        for (int i = 0; i < n; i++) y[yOff + i * yStride] += alpha * x[xOff + i * xStride];
    }

    /**
     * n-d scalar reference: y += alpha * x over {@code shape}, both viewed with their strides; alpha is
     * rounded to the arrays' type ({@code (long) alpha} for integers).
     */
    public static void axpyReference(double alpha, Object x, int xOff, int[] xStrides, Object y, int yOff, int[] yStrides, int[] shape) {
        walkAxpy(alpha, x, xOff, xStrides, y, yOff, yStrides, shape, true);
    }

    /** n-d form of the axpy row kernels. */
    public static void axpy(double alpha, Object x, int xOff, int[] xStrides, Object y, int yOff, int[] yStrides, int[] shape) {
        walkAxpy(alpha, x, xOff, xStrides, y, yOff, yStrides, shape, false);
    }

    private static void walkAxpy(double alpha, Object x, int xOff, int[] xStrides, Object y, int yOff, int[] yStrides, int[] shape, boolean reference) {
        sameArrayType(x, y, y);
        RowLoop loop = new RowLoop(shape, new int[] {xOff, yOff}, xStrides, yStrides);
        int n = loop.rowLength();
        for (long r = 0; r < loop.rows(); r++, loop.next()) {
            int xo = loop.offset(0), xs = loop.innerStride(0), yo = loop.offset(1), ys = loop.innerStride(1);
            switch (x) {
                case float[] v -> { if (reference) axpyReference((float) alpha, v, xo, xs, (float[]) y, yo, ys, n); else axpy((float) alpha, v, xo, xs, (float[]) y, yo, ys, n); }
                case double[] v -> { if (reference) axpyReference(alpha, v, xo, xs, (double[]) y, yo, ys, n); else axpy(alpha, v, xo, xs, (double[]) y, yo, ys, n); }
                case long[] v -> axpyReference((long) alpha, v, xo, xs, (long[]) y, yo, ys, n);
                default -> throw unsupported(x);
            }
        }
    }

    /** Vector API row kernel: y += alpha * x when y is contiguous and x contiguous or a broadcast scalar. */
    public static void axpy(float alpha, float[] x, int xOff, int xStride, float[] y, int yOff, int yStride, int n) {
        if (yStride != 1 || !unitOrZero(xStride) || n == 0) {
            axpyReference(alpha, x, xOff, xStride, y, yOff, yStride, n);
            return;
        }
        float[] vx = xStride == 0 ? lanes(FS, x[xOff]) : x;
        int xo = xStride == 0 ? 0 : xOff;
        FloatVector va = FloatVector.broadcast(FS, alpha);
        int i = 0, step = FS.length(), bound = FS.loopBound(n);
        for (; i < bound; i += step) {
            va.fma(FloatVector.fromArray(FS, vx, xo + i * xStride), FloatVector.fromArray(FS, y, yOff + i)).intoArray(y, yOff + i);
        }
        axpyReference(alpha, x, xOff + i * xStride, xStride, y, yOff + i, 1, n - i);
    }

    /** Vector API row kernel, double form. */
    public static void axpy(double alpha, double[] x, int xOff, int xStride, double[] y, int yOff, int yStride, int n) {
        if (yStride != 1 || !unitOrZero(xStride) || n == 0) {
            axpyReference(alpha, x, xOff, xStride, y, yOff, yStride, n);
            return;
        }
        double[] vx = xStride == 0 ? lanes(DS, x[xOff]) : x;
        int xo = xStride == 0 ? 0 : xOff;
        DoubleVector va = DoubleVector.broadcast(DS, alpha);
        int i = 0, step = DS.length(), bound = DS.loopBound(n);
        for (; i < bound; i += step) {
            va.fma(DoubleVector.fromArray(DS, vx, xo + i * xStride), DoubleVector.fromArray(DS, y, yOff + i)).intoArray(y, yOff + i);
        }
        axpyReference(alpha, x, xOff + i * xStride, xStride, y, yOff + i, 1, n - i);
    }

    /** Integer axpy row kernel (scalar). */
    public static void axpy(long alpha, long[] x, int xOff, int xStride, long[] y, int yOff, int yStride, int n) {
        axpyReference(alpha, x, xOff, xStride, y, yOff, yStride, n);
    }

    // =================================================================== scale: y *= s (in place)

    /** y[yOff + i*yStride] *= s for i &lt; n. */
    public static void scaleReference(float s, float[] y, int yOff, int yStride, int n) {
        for (int i = 0; i < n; i++) y[yOff + i * yStride] *= s;
    }

    /** Double form. */
    public static void scaleReference(double s, double[] y, int yOff, int yStride, int n) {
        for (int i = 0; i < n; i++) y[yOff + i * yStride] *= s;
    }

    /** Integer form (wrapping). */
    public static void scaleReference(long s, long[] y, int yOff, int yStride, int n) {
        for (int i = 0; i < n; i++) y[yOff + i * yStride] *= s;
    }

    /** n-d scalar reference: y *= s over {@code shape}, y viewed with its strides; s rounded to y's type. */
    public static void scaleReference(double s, Object y, int yOff, int[] yStrides, int[] shape) {
        walkScale(s, y, yOff, yStrides, shape, true);
    }

    /** n-d form of the scale row kernels. */
    public static void scale(double s, Object y, int yOff, int[] yStrides, int[] shape) {
        walkScale(s, y, yOff, yStrides, shape, false);
    }

    private static void walkScale(double s, Object y, int yOff, int[] yStrides, int[] shape, boolean reference) {
        RowLoop loop = new RowLoop(shape, new int[] {yOff}, yStrides);
        int n = loop.rowLength();
        for (long r = 0; r < loop.rows(); r++, loop.next()) {
            int yo = loop.offset(0), ys = loop.innerStride(0);
            switch (y) {
                case float[] v -> { if (reference) scaleReference((float) s, v, yo, ys, n); else scale((float) s, v, yo, ys, n); }
                case double[] v -> { if (reference) scaleReference(s, v, yo, ys, n); else scale(s, v, yo, ys, n); }
                case long[] v -> scaleReference((long) s, v, yo, ys, n);
                default -> throw unsupported(y);
            }
        }
    }

    /** Vector API row kernel: y *= s for a contiguous row. */
    public static void scale(float s, float[] y, int yOff, int yStride, int n) {
        if (yStride != 1) {
            scaleReference(s, y, yOff, yStride, n);
            return;
        }
        int i = 0, step = FS.length(), bound = FS.loopBound(n);
        for (; i < bound; i += step) FloatVector.fromArray(FS, y, yOff + i).mul(s).intoArray(y, yOff + i);
        scaleReference(s, y, yOff + i, 1, n - i);
    }

    /** Vector API row kernel, double form. */
    public static void scale(double s, double[] y, int yOff, int yStride, int n) {
        if (yStride != 1) {
            scaleReference(s, y, yOff, yStride, n);
            return;
        }
        int i = 0, step = DS.length(), bound = DS.loopBound(n);
        for (; i < bound; i += step) DoubleVector.fromArray(DS, y, yOff + i).mul(s).intoArray(y, yOff + i);
        scaleReference(s, y, yOff + i, 1, n - i);
    }

    /** Integer scale row kernel (scalar). */
    public static void scale(long s, long[] y, int yOff, int yStride, int n) {
        scaleReference(s, y, yOff, yStride, n);
    }

    // ------------------------------------------------------------------ helpers

    private static boolean unitOrZero(int stride) { return stride == 0 || stride == 1; }

    private static float[] lanes(VectorSpecies<Float> species, float v) {
        float[] a = new float[species.length()];
        Arrays.fill(a, v);
        return a;
    }

    private static double[] lanes(VectorSpecies<Double> species, double v) {
        double[] a = new double[species.length()];
        Arrays.fill(a, v);
        return a;
    }

    private static void sameArrayType(Object a, Object b, Object c) {
        if (a.getClass() != b.getClass() || a.getClass() != c.getClass()) {
            throw new IllegalArgumentException("operand arrays differ in type: " + a.getClass().getSimpleName() + ", "
                    + b.getClass().getSimpleName() + ", " + c.getClass().getSimpleName());
        }
    }

    private static IllegalArgumentException unsupported(Object a) {
        return new IllegalArgumentException("these kernels take float[], double[] or long[], not " + a.getClass().getSimpleName());
    }
}
