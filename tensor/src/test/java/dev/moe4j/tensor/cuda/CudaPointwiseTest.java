package dev.moe4j.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import dev.moe4j.kernels.cpu.BinaryOp;
import dev.moe4j.kernels.cpu.UnaryOp;
import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.kernels.cuda.KernelBuild;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.ops.Pointwise;
import dev.moe4j.tensor.ops.Pointwise.Binary;
import dev.moe4j.tensor.ops.Pointwise.Compare;
import dev.moe4j.tensor.ops.Pointwise.Unary;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every pointwise op on device tensors against the same op on the CPU: F32, BF16 and the integer
 * and BOOL types, random and odd shapes, 0 elements, broadcasting, and non-contiguous operands
 * (transposed, narrowed, stepped views of device storage, read in place).
 *
 * <p>Tolerances: results are compared exactly (NaN equal to NaN) except for the ops the CPU evaluates
 * in double and rounds once (EXP, LOG, TANH, GELU, GELU_TANH, SILU, SIGMOID, POW). For those the
 * reference is the CPU's scalar specification ({@link UnaryOp#apply(float)},
 * {@link BinaryOp#apply(float, float)}; the CPU's vector lanes may differ from it by an ulp): F32
 * within {@link #F32_REL} relative, BF16 exactly (a double result rounded to bf16 only differs when
 * it lies within a few double ulps of a bf16 rounding boundary). In-place ops write into views of
 * poisoned storage, and the elements outside the view must keep the poison.
 */
@Tag("gpu")
class CudaPointwiseTest {
    static final Device GPU = Device.cuda(0);
    /** F32 result of a double-evaluated op vs the CPU's scalar specification, relative. */
    static final double F32_REL = 1e-6;

    static final DType[] FLOATS = {DType.F32, DType.BF16};
    static final DType[] ARITH = {DType.F32, DType.BF16, DType.I32, DType.I64};
    static final DType[] ALL = {DType.F32, DType.BF16, DType.I32, DType.I64, DType.BOOL};

    @BeforeEach
    void needsAGpu() {
        Assumptions.assumeTrue(CudaProbe.available(), () -> "no CUDA device: " + CudaProbe.reason());
        Assumptions.assumeTrue(KernelBuild.available(), () -> "CUDA kernels not built: " + KernelBuild.reason());
    }

    // ------------------------------------------------------------------ data and views

    /** Random values of {@code dt}: floats with NaN, infinities and signed zeros sprinkled in; small and extreme integers. */
    static Tensor random(Random r, DType dt, int... shape) {
        int n = (int) Shape.numel(shape);
        if (dt == DType.BOOL) {
            boolean[] b = new boolean[n];
            for (int i = 0; i < n; i++) b[i] = r.nextBoolean();
            return Tensor.of(b, shape);
        }
        if (dt.isFloatingPoint()) {
            float[] f = new float[n];
            float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 1f, -1f};
            for (int i = 0; i < n; i++) {
                int pick = r.nextInt(40);
                f[i] = pick < specials.length ? specials[pick] : pick < 14 ? Math.round(r.nextGaussian() * 2) : (float) (r.nextGaussian() * 2.5);
            }
            return Tensor.of(f, shape).to(dt);
        }
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            int pick = r.nextInt(30);
            v[i] = pick == 0 ? Long.MIN_VALUE : pick == 1 ? Long.MAX_VALUE : pick == 2 ? Integer.MIN_VALUE : pick < 5 ? r.nextLong() : r.nextInt(41) - 20;
        }
        return Tensor.of(v, shape).to(dt);
    }

    /** Finite values in [-4, 4] (for the transcendental maps, whose float and double forms only differ in rounding there). */
    static Tensor moderate(Random r, DType dt, int... shape) {
        int n = (int) Shape.numel(shape);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() * 8 - 4);
        if (n > 2) { f[0] = 0f; f[1] = -0f; }
        return Tensor.of(f, shape).to(dt);
    }

    /** Integer exponents in [0, 6]. */
    static Tensor exponents(Random r, DType dt, int... shape) {
        long[] v = new long[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = r.nextInt(7);
        return Tensor.of(v, shape).to(dt);
    }

    /** A way to reach a tensor of a given shape: the storage to allocate and the view taken of it. */
    record View(String name, int[] base, UnaryOperator<Tensor> take) {}

    /** Contiguous, transposed, narrowed and stepped views of logical shape {@code s}. */
    static List<View> views(int[] s) {
        List<View> v = new ArrayList<>();
        v.add(new View("contiguous", s, t -> t));
        if (s.length == 0) return v;
        int last = s.length - 1;
        int[] wider = s.clone();
        wider[last] += 3;
        v.add(new View("narrowed", wider, t -> t.narrow(last, 1, s[last])));
        int[] twice = s.clone();
        twice[0] = 2 * s[0];
        v.add(new View("stepped", twice, t -> t.slice(0, s[0] > 0 ? 1 : 0, 2 * s[0], 2)));
        if (s.length >= 2) {
            int[] swapped = s.clone();
            swapped[last] = s[last - 1];
            swapped[last - 1] = s[last];
            v.add(new View("transposed", swapped, t -> t.mT()));
        }
        return v;
    }

    static final int[][] SHAPES = {{0}, {1}, {7}, {33}, {1027}, {5, 7}, {37, 19}, {3, 4, 5}, {0, 3}, {2, 1, 9}};

    /** Broadcasting pairs: (shape of a, shape of b). */
    static final int[][][] PAIRS = {
            {{5, 7}, {5, 7}}, {{5, 7}, {7}}, {{4, 1, 6}, {3, 1}}, {{0, 3}, {3}}, {{1}, {9, 9}}, {{1027}, {1027}},
            {{2, 3, 5, 7}, {3, 1, 7}}, {{6, 1}, {1, 5}}, {{}, {4, 3}}};

    // ------------------------------------------------------------------ comparisons

    static void assertSame(String what, Tensor want, Tensor got) {
        assertEquals(GPU, got.device(), what + ": result device");
        assertEquals(want.dtype(), got.dtype(), what + ": dtype");
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        Tensor g = got.cpu();
        if (want.dtype().isFloatingPoint()) {
            double[] w = want.toDoubleArray(), h = g.toDoubleArray();
            for (int i = 0; i < w.length; i++) {
                if (!(w[i] == h[i] || (Double.isNaN(w[i]) && Double.isNaN(h[i])))) fail(what + " at " + i + ": want " + w[i] + ", got " + h[i]);
            }
        } else {
            assertArrayEquals(want.toLongArray(), g.toLongArray(), what);
        }
    }

    static void assertClose(String what, Tensor want, Tensor got, double rel) {
        assertEquals(want.dtype(), got.dtype(), what + ": dtype");
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        double[] w = want.toDoubleArray(), h = got.cpu().toDoubleArray();
        for (int i = 0; i < w.length; i++) {
            boolean ok = w[i] == h[i] || (Double.isNaN(w[i]) && Double.isNaN(h[i])) || Math.abs(h[i] - w[i]) <= rel * Math.abs(w[i]);
            if (!ok) fail(what + " at " + i + ": want " + w[i] + ", got " + h[i]);
        }
    }

    static boolean exactUnary(Unary op) {
        return op == Unary.NEG || op == Unary.ABS || op == Unary.SQRT || op == Unary.RSQRT || op == Unary.RELU;
    }

    /** The CPU's scalar specification of a float unary op on a's values, stored as a's dtype. */
    static Tensor unaryReference(Unary op, Tensor a) {
        float[] x = a.toFloatArray();
        UnaryOp k = UnaryOp.valueOf(op.name());
        for (int i = 0; i < x.length; i++) x[i] = k.apply(x[i]);
        return Tensor.of(x, a.shape()).to(a.dtype());
    }

    // ------------------------------------------------------------------ unary

    @Test
    void unaryMapsMatchTheCpu() {
        Random r = new Random(11);
        for (Unary op : Unary.values()) {
            for (DType dt : FLOATS) {
                for (int[] shape : SHAPES) {
                    for (View v : views(shape)) {
                        Tensor base = exactUnary(op) ? random(r, dt, v.base) : moderate(r, dt, v.base);
                        Tensor a = v.take.apply(base), ag = v.take.apply(base.to(GPU));
                        String what = op + " " + dt + " " + Shape.str(shape) + " " + v.name;
                        Tensor got = Pointwise.unary(op, ag);
                        if (exactUnary(op)) assertSame(what, Pointwise.unary(op, a), got);
                        else if (dt == DType.BF16) assertSame(what, unaryReference(op, a), got);
                        else assertClose(what, unaryReference(op, a), got, F32_REL);
                    }
                }
            }
            // integers: NEG, ABS, RELU keep the type (|MIN| wraps); the others promote to F32
            for (DType dt : new DType[] {DType.I32, DType.I64}) {
                Tensor a = random(r, dt, 9, 13);
                Tensor ag = a.to(GPU).mT();
                String what = op + " " + dt;
                if (UnaryOp.valueOf(op.name()).isIntegral()) assertSame(what, Pointwise.unary(op, a.mT()), Pointwise.unary(op, ag));
                else assertClose(what, unaryReference(op, a.mT().to(DType.F32)), Pointwise.unary(op, ag), F32_REL);
            }
        }
    }

    // ------------------------------------------------------------------ binary

    /** Float POW's scalar specification on the broadcast values, stored as {@code dt}. */
    static Tensor powReference(Tensor a, Tensor b, DType dt) {
        int[] shape = Shape.broadcast(a.shape(), b.shape());
        float[] x = a.to(DType.F32).expand(shape).toFloatArray(), y = b.to(DType.F32).expand(shape).toFloatArray();
        for (int i = 0; i < x.length; i++) x[i] = BinaryOp.POW.apply(x[i], y[i]);
        return Tensor.of(x, shape).to(dt);
    }

    @Test
    void binaryOpsBroadcastAndMatchTheCpu() {
        Random r = new Random(12);
        for (Binary op : Binary.values()) {
            for (DType dt : ARITH) {
                for (int[][] pair : PAIRS) {
                    List<View> va = views(pair[0]), vb = views(pair[1]);
                    for (int k = 0; k < Math.max(va.size(), vb.size()); k++) {
                        View x = va.get(k % va.size()), y = vb.get((k + 1) % vb.size());
                        Tensor baseA = random(r, dt, x.base), baseB = random(r, dt, y.base);
                        if (op == Binary.POW && !dt.isFloatingPoint()) baseB = exponents(r, dt, y.base);
                        Tensor a = x.take.apply(baseA), b = y.take.apply(baseB);
                        Tensor ag = x.take.apply(baseA.to(GPU)), bg = y.take.apply(baseB.to(GPU));
                        String what = op + " " + dt + " " + Shape.str(pair[0]) + " " + x.name + " with " + Shape.str(pair[1]) + " " + y.name;
                        Tensor got = Pointwise.binary(op, ag, bg);
                        if (op == Binary.POW && dt == DType.F32) assertClose(what, powReference(a, b, dt), got, F32_REL);
                        else if (op == Binary.POW && dt == DType.BF16) assertSame(what, powReference(a, b, dt), got);
                        else assertSame(what, Pointwise.binary(op, a, b), got);
                    }
                }
            }
        }
        // mixed dtypes go through the CPU's conversions
        DType[][] mixed = {{DType.F32, DType.BF16}, {DType.BF16, DType.I64}, {DType.I32, DType.I64}, {DType.BOOL, DType.BOOL},
                {DType.I32, DType.F32}, {DType.BOOL, DType.F32}, {DType.I32, DType.I32}};
        for (DType[] m : mixed) {
            for (Binary op : new Binary[] {Binary.ADD, Binary.MUL, Binary.DIV, Binary.MAXIMUM}) {
                Tensor a = random(r, m[0], 6, 5), b = random(r, m[1], 5);
                if (op != Binary.ADD && op != Binary.MUL && m[0] == DType.BOOL && m[1] == DType.BOOL) continue;
                assertSame(op + " " + m[0] + " with " + m[1], Pointwise.binary(op, a, b), Pointwise.binary(op, a.to(GPU), b.to(GPU)));
            }
        }
        Tensor neg = Tensor.of(new long[] {2, -1}, 2).to(GPU);
        assertThrows(IllegalArgumentException.class, () -> neg.pow(neg));
    }

    @Test
    void binaryWithAScalarMatchesTheCpu() {
        Random r = new Random(13);
        double[] scalars = {2.5, -3.0, 0.0, 0.1, 7.0};
        for (Binary op : Binary.values()) {
            for (DType dt : ALL) {
                for (double s : scalars) {
                    if (op == Binary.POW && !dt.isFloatingPoint() && s < 0) continue;
                    if (op == Binary.SUB && dt == DType.BOOL) continue;
                    for (View v : views(new int[] {11, 6})) {
                        Tensor base = random(r, dt, v.base);
                        Tensor a = v.take.apply(base), ag = v.take.apply(base.to(GPU));
                        String what = op + " " + dt + " " + s + " " + v.name;
                        Tensor got = Pointwise.binaryScalar(op, ag, s);
                        Tensor want = Pointwise.binaryScalar(op, a, s);
                        if (op == Binary.POW && want.dtype().isFloatingPoint()) {
                            Tensor ref = powReference(a, Tensor.scalar(DType.F32, (float) s), want.dtype());
                            if (want.dtype() == DType.F32) assertClose(what, ref, got, F32_REL);
                            else assertSame(what, ref, got);
                        } else {
                            assertSame(what, want, got);
                        }
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new int[] {2}, 1).to(GPU).pow(-1));
        assertEquals(0, Tensor.zeros(0, 4).to(GPU).mul(3).numel());
    }

    // ------------------------------------------------------------------ comparisons and selection

    @Test
    void comparisonsMatchTheCpu() {
        Random r = new Random(14);
        for (Compare op : Compare.values()) {
            for (DType dt : ALL) {
                for (int[][] pair : PAIRS) {
                    List<View> va = views(pair[0]);
                    View x = va.get(va.size() - 1);
                    Tensor baseA = random(r, dt, x.base), b = random(r, dt, pair[1]);
                    Tensor a = x.take.apply(baseA), ag = x.take.apply(baseA.to(GPU));
                    assertSame(op + " " + dt + " " + Shape.str(pair[0]) + " " + x.name + " vs " + Shape.str(pair[1]),
                            Pointwise.compare(op, a, b), Pointwise.compare(op, ag, b.to(GPU)));
                }
            }
            Tensor f = random(r, DType.F32, 4, 9), h = random(r, DType.BF16, 9), i = random(r, DType.I32, 4, 9);
            assertSame(op + " F32 vs BF16", Pointwise.compare(op, f, h), Pointwise.compare(op, f.to(GPU), h.to(GPU)));
            assertSame(op + " I32 vs F32", Pointwise.compare(op, i, f), Pointwise.compare(op, i.to(GPU), f.to(GPU)));
        }
    }

    @Test
    void whereAndMaskedFillMatchTheCpu() {
        Random r = new Random(15);
        for (DType dt : ALL) {
            for (View v : views(new int[] {9, 7})) {
                Tensor cond = random(r, DType.BOOL, 9, 1), baseA = random(r, dt, v.base), b = random(r, dt, 7);
                Tensor a = v.take.apply(baseA), ag = v.take.apply(baseA.to(GPU));
                assertSame("where " + dt + " " + v.name, Tensor.where(cond, a, b), Tensor.where(cond.to(GPU), ag, b.to(GPU)));
                Tensor mask = random(r, DType.BOOL, 1, 7), full = random(r, DType.BOOL, 9, 7);
                for (double value : new double[] {0.1, Double.NEGATIVE_INFINITY, 3.7, 2.0}) {
                    String what = "maskedFill " + dt + " " + v.name + " " + value;
                    assertSame(what, a.maskedFill(mask, value), ag.maskedFill(mask.to(GPU), value));
                    assertSame(what + " full mask", a.maskedFill(full.mT().mT(), value), ag.maskedFill(full.to(GPU), value));
                }
            }
        }
        DType[][] mixed = {{DType.F32, DType.BF16}, {DType.I32, DType.BF16}, {DType.BOOL, DType.I64}};
        for (DType[] m : mixed) {
            Tensor c = random(r, DType.BOOL, 5, 6), a = random(r, m[0], 5, 6), b = random(r, m[1], 6);
            assertSame("where " + m[0] + ", " + m[1], Tensor.where(c, a, b), Tensor.where(c.to(GPU), a.to(GPU), b.to(GPU)));
        }
        Tensor e = Tensor.zeros(0, 3);
        assertEquals(0, Tensor.where(e.to(GPU).eq(e.to(GPU)), e.to(GPU), e.to(GPU)).numel());
    }

    // ------------------------------------------------------------------ in place

    /** A [7, 9] storage filled with a poison value, on the CPU and (a copy) on the device. */
    static Tensor poisoned(DType dt) {
        double poison = dt.isFloatingPoint() ? Double.NaN : dt == DType.BOOL ? 1 : -12345;
        return Tensor.full(dt, poison, 7, 9);
    }

    /** The in-place targets: a transposed-and-narrowed [5, 7] view, a stepped [4, 9] view, and all of it. */
    static final List<UnaryOperator<Tensor>> TARGETS = List.of(t -> t.mT().narrow(0, 1, 5), t -> t.slice(0, 0, 7, 2), t -> t);

    @Test
    void addInPlaceAndMulInPlaceWriteOnlyTheView() {
        Random r = new Random(16);
        DType[][] pairs = {{DType.F32, DType.F32}, {DType.BF16, DType.BF16}, {DType.BF16, DType.F32}, {DType.F32, DType.BF16},
                {DType.F32, DType.I64}, {DType.I32, DType.I32}, {DType.I32, DType.I64}, {DType.I64, DType.I32}, {DType.I32, DType.BOOL}};
        for (DType[] p : pairs) {
            double alpha = p[0].isFloatingPoint() ? 0.75 : 3;
            for (UnaryOperator<Tensor> target : TARGETS) {
                Tensor cpu = poisoned(p[0]), dev = cpu.to(GPU);
                Tensor self = target.apply(cpu), selfG = target.apply(dev);
                self.copyFrom(random(r, p[0], self.shape()));
                selfG.copyFrom(self.to(GPU));
                int[] s = self.shape();
                Tensor other = random(r, p[1], s[s.length - 1]);           // broadcast over the rows
                self.addInPlace(other, alpha);
                selfG.addInPlace(other.to(GPU), alpha);
                assertSame("addInPlace " + p[0] + " += " + p[1] + " " + Shape.str(s), cpu, dev);
                Tensor rows = random(r, p[1], s[1], s[0]);                      // other as a transposed view
                self.addInPlace(rows.mT(), alpha);
                selfG.addInPlace(rows.to(GPU).mT(), alpha);
                assertSame("addInPlace transposed " + p[0] + " += " + p[1], cpu, dev);
                if (p[0] != DType.BOOL) {
                    double s2 = p[0].isFloatingPoint() ? -1.5 : -3;
                    self.mulInPlace(s2);
                    selfG.mulInPlace(s2);
                    assertSame("mulInPlace " + p[0], cpu, dev);
                }
            }
        }
        // reading what is written: x += x^T on a square view
        Tensor sq = random(r, DType.F32, 6, 6), sqG = sq.to(GPU);
        sq.addInPlace(sq.mT(), 1.0);
        sqG.addInPlace(sqG.mT(), 1.0);
        assertSame("x += x^T", sq, sqG);
        int version = sqG.storage().version();
        sqG.mulInPlace(2);
        assertEquals(version + 1, sqG.storage().version());
    }

    @Test
    void fillAndCopyFromWriteOnlyTheView() {
        Random r = new Random(17);
        for (DType dt : ALL) {
            for (UnaryOperator<Tensor> target : TARGETS) {
                Tensor cpu = poisoned(dt), dev = cpu.to(GPU);
                target.apply(cpu).fill(3.7);
                target.apply(dev).fill(3.7);
                assertSame("fill " + dt, cpu, dev);
                for (DType from : ALL) {
                    Tensor src = random(r, from, target.apply(cpu).size(-1));
                    target.apply(cpu).copyFrom(src);
                    target.apply(dev).copyFrom(src.to(GPU));
                    assertSame("copyFrom " + from + " into " + dt, cpu, dev);
                }
            }
        }
    }

    // ------------------------------------------------------------------ conversions and copies

    @Test
    void conversionsMatchTheCpuIncludingEdgeValues() {
        Random r = new Random(18);
        float[] floats = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, 0.5f, -1.5f, 2.5f, 3e9f, -3e9f, 1e20f, -1e20f,
                16777217f, 1.00390625f, 1.01171875f, 65504f, 1e-40f, -2.75f, 255.5f, 4.2e9f};
        long[] longs = {Long.MAX_VALUE, Long.MIN_VALUE, (1L << 53) + 1, 1L << 31, -(1L << 31) - 1, 0, 1, -1, 16777217, 257, -129,
                (1L << 24) + 3, 4294967295L, 123456789012345L};
        for (DType from : ALL) {
            Tensor base = switch (from) {
                case F32, BF16 -> Tensor.of(floats, 4, 5).to(from);
                case I32, I64 -> Tensor.of(longs, 2, 7).to(from);
                default -> random(r, DType.BOOL, 3, 5);
            };
            for (DType to : ALL) {
                assertSame(from + " -> " + to, base.to(to), base.to(GPU).to(to));
                assertSame(from + " -> " + to + " transposed", base.mT().to(to), base.to(GPU).mT().to(to));
                Tensor rnd = random(r, from, 37, 3);
                assertSame(from + " -> " + to + " random", rnd.to(to), rnd.to(GPU).to(to));
            }
        }
    }

    @Test
    void contiguousCopiesEveryDtypeBitForBit() {
        Random r = new Random(19);
        for (DType dt : DType.values()) {
            Tensor base = Tensor.randn(new dev.moe4j.tensor.Generator(r.nextLong()), DType.F64, 4, 6, 5).mul(40).to(dt);
            Tensor g = base.to(GPU);
            List<UnaryOperator<Tensor>> vs = List.of(t -> t.permute(2, 0, 1), t -> t.narrow(1, 2, 3).mT(), t -> t.select(1, 3).unsqueeze(1).expand(4, 3, 5),
                    t -> t.slice(2, 0, 5, 2));
            for (UnaryOperator<Tensor> v : vs) {
                Tensor c = v.apply(g).contiguous();
                assertEquals(GPU, c.device());
                assertArrayEquals(v.apply(base).toDoubleArray(), c.cpu().toDoubleArray(), dt + " view copy");
            }
        }
        // nine dims that do not merge: the copy goes through the host, and ops make their operands contiguous
        int[] nine = {2, 2, 2, 2, 2, 2, 2, 2, 2};
        Tensor t = random(r, DType.F32, nine).permute(8, 7, 6, 5, 4, 3, 2, 1, 0);
        Tensor tg = random(r, DType.F32, nine).to(GPU).permute(8, 7, 6, 5, 4, 3, 2, 1, 0);
        Tensor u = tg.cpu();
        assertSame("9-d contiguous", u.contiguous(), tg.contiguous());
        assertSame("9-d add", t.add(u), t.to(GPU).add(tg));
        assertSame("9-d to(BF16)", u.to(DType.BF16), tg.to(DType.BF16));
    }

    // ------------------------------------------------------------------ creation and element access

    @Test
    void factoriesKeepTheDeviceAndItemDownloads() {
        for (DType dt : ALL) {
            assertSame("zeros " + dt, Tensor.zeros(dt, 3, 5), Tensor.zeros(dt, GPU, 3, 5));
            assertSame("ones " + dt, Tensor.ones(dt, 3, 5), Tensor.ones(dt, GPU, 3, 5));
            assertSame("full " + dt, Tensor.full(dt, -2.5, 3, 5), Tensor.full(dt, GPU, -2.5, 3, 5));
            Tensor like = Tensor.zeros(dt, GPU, 2, 4);
            assertSame("onesLike " + dt, Tensor.ones(dt, 2, 4), Tensor.onesLike(like));
            assertSame("fullLike " + dt, Tensor.full(dt, 9, 2, 4), Tensor.fullLike(like, 9));
            assertSame("zerosLike " + dt, Tensor.zeros(dt, 2, 4), Tensor.zerosLike(Tensor.onesLike(like)));
        }
        assertEquals(0, Tensor.zeros(DType.F32, GPU, 0, 7).numel());
        assertEquals(Device.CPU, Tensor.zerosLike(Tensor.ones(2)).device());
        Tensor v = Tensor.vector(1.5f, -2.25f, 8f).to(GPU);
        assertEquals(-2.25, v.narrow(0, 1, 1).item());
        assertEquals(8.0, v.select(0, 2).item());
        assertEquals(3.0, Tensor.of(new long[] {3}, 1).to(GPU).item());
        assertArrayEquals(new float[] {1.5f, -2.25f, 8f}, v.toFloatArray());
        assertThrows(IllegalArgumentException.class, v::item);
    }
}
