package dev.moe4j.tensor.ops;

import dev.moe4j.kernels.cpu.Erf;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static dev.moe4j.tensor.ops.OpsTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Elementwise tensor ops against naive loops over indices in double precision. */
class PointwiseTest {

    /** The op on doubles, written out independently of the kernels. */
    static double naive(Pointwise.Binary op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
            case MAXIMUM -> (Double.isNaN(a) || Double.isNaN(b)) ? Double.NaN : Math.max(a, b);
            case MINIMUM -> (Double.isNaN(a) || Double.isNaN(b)) ? Double.NaN : Math.min(a, b);
        };
    }

    static double naive(Pointwise.Unary op, double x) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case RELU -> x > 0 ? x : (Double.isNaN(x) ? x : 0);
            case GELU -> 0.5 * x * (1 + Erf.erf(x / Math.sqrt(2)));
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * Math.pow(x, 3))));
            case SILU -> x / (1 + Math.exp(-x));
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case TANH -> Math.tanh(x);
        };
    }

    @ParameterizedTest
    @EnumSource(Pointwise.Binary.class)
    void binaryBroadcastsOverAnyViews(Pointwise.Binary op) {
        Random rnd = new Random(op.ordinal());
        for (int trial = 0; trial < 60; trial++) {
            DType dtype = trial % 2 == 0 ? DType.F32 : DType.F64;
            int[] out = randomShape(rnd, 4, 6);
            int[] sa = broadcastableTo(rnd, out), sb = broadcastableTo(rnd, out);
            if (rnd.nextBoolean()) { int[] t = sa; sa = out; out = Shape.broadcast(t, out); }
            int[] shape = Shape.broadcast(sa, sb);
            Tensor a = randomView(rnd, dtype, sa), b = randomView(rnd, dtype, sb);
            if (op == Pointwise.Binary.POW) a = a.abs();
            Tensor got = Pointwise.binary(op, a, b);
            Tensor fa = a, fb = b;
            int[] sa2 = sa, sb2 = sb;
            double rel = op == Pointwise.Binary.POW ? relTol(dtype) : 0;
            assertElements(op + " " + Shape.str(sa) + " with " + Shape.str(sb), got, dtype, shape, idx -> {
                double x = fa.getDouble(broadcastIndex(idx, sa2)), y = fb.getDouble(broadcastIndex(idx, sb2));
                return roundTo(dtype, naive(op, x, y));
            });
            if (rel == 0) {                                         // exactly rounded ops are exact
                forEachIndex(shape, idx -> assertThat(same(got.getDouble(idx), roundTo(dtype,
                        naive(op, fa.getDouble(broadcastIndex(idx, sa2)), fb.getDouble(broadcastIndex(idx, sb2)))))).isTrue());
            }
        }
    }

    @Test
    void typePromotion() {
        Tensor f32 = Tensor.of(new float[] {1.5f, -2f}, 2), f64 = Tensor.of(new double[] {0.25, 4}, 2);
        Tensor i64 = Tensor.of(new long[] {7, -3}, 2), i32 = Tensor.of(new int[] {2, 5}, 2);
        Tensor bool = Tensor.of(new boolean[] {true, false}, 2);
        assertThat(f32.add(f64).dtype()).isEqualTo(DType.F64);
        assertThat(f32.add(f64).toDoubleArray()).containsExactly(1.75, 2.0);
        assertThat(i64.add(f32).dtype()).isEqualTo(DType.F32);
        assertThat(i32.mul(i64).dtype()).isEqualTo(DType.I64);
        assertThat(i32.mul(i64).toLongArray()).containsExactly(14, -15);
        Tensor q = i64.div(i32);
        assertThat(q.dtype()).as("true division of integers").isEqualTo(DType.F32);
        assertThat(q.toFloatArray()).containsExactly(3.5f, -0.6f);
        assertThat(bool.add(bool).dtype()).isEqualTo(DType.BOOL);
        assertThat(bool.add(i32).toLongArray()).containsExactly(3, 5);
        assertThatThrownBy(() -> bool.sub(bool)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BOOL");
        Tensor big = Tensor.of(new int[] {Integer.MAX_VALUE, 3}, 2);
        assertThat(big.add(Tensor.of(new int[] {1, 1}, 2)).toIntArray()).as("I32 wraps").containsExactly(Integer.MIN_VALUE, 4);
        assertThat(i64.pow(Tensor.of(new long[] {3, 2}, 2)).toLongArray()).containsExactly(343, 9);
        assertThatThrownBy(() -> i64.pow(Tensor.of(new long[] {1, -1}, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        Tensor h = Tensor.of(new float[] {1.5f, 3f}, 2).to(DType.BF16);
        assertThat(h.mul(h).dtype()).isEqualTo(DType.BF16);
        assertThat(h.mul(h).toFloatArray()).containsExactly(2.25f, 9f);
        assertThat(h.add(h.to(DType.F16)).dtype()).isEqualTo(DType.F32);
        assertThat(h.add(i64).dtype()).isEqualTo(DType.BF16);
    }

    @Test
    void maximumMinimumPropagateNaN() {
        Tensor a = Tensor.of(new double[] {1, Double.NaN, 3}, 3), b = Tensor.of(new double[] {Double.NaN, 0, 2}, 3);
        double[] mx = a.maximum(b).toDoubleArray(), mn = a.minimum(b).toDoubleArray();
        assertThat(mx[0]).isNaN();
        assertThat(mx[1]).isNaN();
        assertThat(mx[2]).isEqualTo(3);
        assertThat(mn[0]).isNaN();
        assertThat(mn[2]).isEqualTo(2);
    }

    @Test
    void binaryScalar() {
        Random rnd = new Random(5);
        Tensor x = randomView(rnd, DType.F32, new int[] {3, 4, 5}).transpose(0, 2);
        for (Pointwise.Binary op : Pointwise.Binary.values()) {
            double s = op == Pointwise.Binary.POW ? 2.0 : -1.25;
            Tensor base = op == Pointwise.Binary.POW ? x.abs() : x;
            Tensor got = Pointwise.binaryScalar(op, base, s);
            assertElements(op + " scalar", got, DType.F32, base.shape(), idx -> roundTo(DType.F32, naive(op, base.getDouble(idx), (float) s)));
        }
        Tensor i = Tensor.of(new long[] {4, -6, 9}, 3);
        assertThat(i.mul(2.0).dtype()).isEqualTo(DType.I64);
        assertThat(i.mul(2.0).toLongArray()).containsExactly(8, -12, 18);
        assertThat(i.mul(0.5).dtype()).isEqualTo(DType.F32);
        assertThat(i.mul(0.5).toFloatArray()).containsExactly(2f, -3f, 4.5f);
        assertThat(i.div(2.0).dtype()).isEqualTo(DType.F32);
        assertThat(i.div(4.0).toFloatArray()).containsExactly(1f, -1.5f, 2.25f);
        assertThat(i.pow(2.0).toLongArray()).containsExactly(16, 36, 81);
        assertThatThrownBy(() -> i.pow(-1.0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        Tensor bool = Tensor.of(new boolean[] {true, false}, 2);
        assertThat(bool.add(1.0).dtype()).isEqualTo(DType.I64);
        assertThat(bool.add(1.0).toLongArray()).containsExactly(2, 1);
        Tensor h = Tensor.of(new float[] {1f, 2f}, 2).to(DType.F16);
        assertThat(h.mul(3.0).dtype()).isEqualTo(DType.F16);
        assertThat(h.mul(3.0).toFloatArray()).containsExactly(3f, 6f);
    }

    @ParameterizedTest
    @EnumSource(Pointwise.Compare.class)
    void comparisonsBroadcastAndGiveBool(Pointwise.Compare op) {
        Random rnd = new Random(20 + op.ordinal());
        for (int trial = 0; trial < 30; trial++) {
            int[] out = randomShape(rnd, 3, 5);
            int[] sa = broadcastableTo(rnd, out), sb = broadcastableTo(rnd, out);
            int[] shape = Shape.broadcast(sa, sb);
            DType ta = trial % 3 == 0 ? DType.I64 : DType.F32, tb = trial % 2 == 0 ? DType.F64 : DType.F32;
            Tensor a = randomView(rnd, ta, sa);
            Tensor b = randomView(rnd, tb, sb);
            if (rnd.nextBoolean()) b = a.to(tb).expand(Shape.broadcast(sa, sb));   // equal elements
            Tensor fb = b;
            int[] sbb = fb.shape();
            Tensor got = Pointwise.compare(op, a, b);
            int[] full = Shape.broadcast(sa, sbb);
            assertElements(op.toString(), got, DType.BOOL, full, idx -> {
                double x = a.getDouble(broadcastIndex(idx, sa)), y = fb.getDouble(broadcastIndex(idx, sbb));
                boolean r = switch (op) {
                    case EQ -> x == y; case NE -> x != y; case LT -> x < y; case LE -> x <= y; case GT -> x > y; case GE -> x >= y;
                };
                return r ? 1.0 : 0.0;
            });
        }
        Tensor nan = Tensor.of(new double[] {Double.NaN}, 1);
        assertThat(Pointwise.compare(op, nan, nan).getLong(0)).isEqualTo(op == Pointwise.Compare.NE ? 1 : 0);
    }

    @ParameterizedTest
    @EnumSource(Pointwise.Unary.class)
    void unaryOnViewsMatchesFormulas(Pointwise.Unary op) {
        Random rnd = new Random(40 + op.ordinal());
        boolean positive = op == Pointwise.Unary.LOG || op == Pointwise.Unary.SQRT || op == Pointwise.Unary.RSQRT;
        for (DType dtype : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            for (int trial = 0; trial < 12; trial++) {
                int[] shape = randomShape(rnd, 4, 7);
                Tensor x = randomView(rnd, dtype, shape);
                if (positive) x = x.abs().add(0.01);
                Tensor fx = x;
                Tensor got = Pointwise.unary(op, x);
                // the GELU oracles are PyTorch's 1 + erf / 1 + tanh forms, whose rounding error is about eps * |x|
                boolean cancels = op == Pointwise.Unary.GELU || op == Pointwise.Unary.GELU_TANH;
                assertElementsScaled(op + " " + dtype, got, dtype, shape, idx -> new double[] {
                        roundTo(dtype, naive(op, fx.getDouble(idx))), cancels ? Math.abs(fx.getDouble(idx)) : 0});
            }
        }
    }

    @Test
    void unaryTypeRules() {
        Tensor i = Tensor.of(new int[] {-2, 0, 3}, 3);
        assertThat(i.neg().dtype()).isEqualTo(DType.I32);
        assertThat(i.neg().toIntArray()).containsExactly(2, 0, -3);
        assertThat(i.abs().toIntArray()).containsExactly(2, 0, 3);
        assertThat(i.relu().toIntArray()).containsExactly(0, 0, 3);
        assertThat(i.exp().dtype()).isEqualTo(DType.F32);
        assertThat(i.exp().toFloatArray()).containsExactly((float) Math.exp(-2), 1f, (float) Math.exp(3));
        Tensor b = Tensor.of(new boolean[] {true, false}, 2);
        assertThat(b.sigmoid().dtype()).isEqualTo(DType.F32);
        assertThatThrownBy(b::neg).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BOOL");
        double g = Tensor.of(new double[] {-10}, 1).gelu().item();
        assertThat(g).as("exact GELU keeps the left tail").isLessThan(0).isCloseTo(-10 * 0.5 * Erf.erfc(10 / Math.sqrt(2)),
                org.assertj.core.data.Offset.offset(1e-35));
    }

    @Test
    void maskedFillBroadcastsTheMask() {
        Random rnd = new Random(7);
        Tensor a = randomView(rnd, DType.F32, new int[] {4, 3, 5});
        Tensor mask = randomContiguous(rnd, DType.BOOL, 3, 1);
        Tensor got = a.maskedFill(mask, Double.NEGATIVE_INFINITY);
        assertElements("maskedFill", got, DType.F32, a.shape(), idx -> mask.getLong(idx[1], 0) != 0 ? Double.NEGATIVE_INFINITY : a.getDouble(idx));
        Tensor ints = Tensor.of(new long[] {1, 2, 3, 4}, 2, 2);
        Tensor m2 = Tensor.of(new boolean[] {true, false}, 2);
        assertThat(ints.maskedFill(m2, 9).toLongArray()).containsExactly(9, 2, 9, 4);
        assertThat(ints.maskedFill(m2, 9).dtype()).isEqualTo(DType.I64);
        assertThatThrownBy(() -> a.maskedFill(Tensor.ones(DType.F32, 3, 1), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BOOL");
        assertThatThrownBy(() -> a.maskedFill(Tensor.zeros(DType.BOOL, 2, 5), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 5]").hasMessageContaining("[4, 3, 5]");
    }

    @Test
    void whereBroadcastsAllThree() {
        Random rnd = new Random(8);
        for (int trial = 0; trial < 30; trial++) {
            int[] out = randomShape(rnd, 4, 5);
            int[] sc = broadcastableTo(rnd, out), sa = broadcastableTo(rnd, out), sb = broadcastableTo(rnd, out);
            int[] shape = Shape.broadcast(Shape.broadcast(sc, sa), sb);
            Tensor c = randomView(rnd, DType.BOOL, sc);
            Tensor a = randomView(rnd, DType.F64, sa), b = randomView(rnd, trial % 2 == 0 ? DType.F32 : DType.I64, sb);
            Tensor got = Tensor.where(c, a, b);
            assertElements("where", got, DType.F64, shape, idx -> c.getLong(broadcastIndex(idx, sc)) != 0
                    ? a.getDouble(broadcastIndex(idx, sa)) : b.getDouble(broadcastIndex(idx, sb)));
        }
        Tensor i = Tensor.where(Tensor.of(new boolean[] {true, false}, 2), Tensor.of(new long[] {1, 2}, 2), Tensor.of(new int[] {7}, 1));
        assertThat(i.dtype()).isEqualTo(DType.I64);
        assertThat(i.toLongArray()).containsExactly(1, 7);
        assertThatThrownBy(() -> Tensor.where(Tensor.ones(DType.I64, 2), Tensor.ones(2), Tensor.ones(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BOOL");
        assertThatThrownBy(() -> Tensor.where(Tensor.zeros(DType.BOOL, 3), Tensor.ones(2), Tensor.ones(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3]").hasMessageContaining("[2]");
    }

    @Test
    void addInPlaceWritesThroughNonContiguousViews() {
        Random rnd = new Random(9);
        Tensor base = randomContiguous(rnd, DType.F64, 6, 8);
        Tensor before = base.copy();
        Tensor view = base.slice(1, 1, 8, 2).transpose(0, 1);           // [4, 6], strides [2, 8]
        Tensor other = randomContiguous(rnd, DType.F32, 1, 6);          // broadcast over rows, promoted to F64
        int v0 = base.storage().version();
        Tensor r = view.addInPlace(other, 0.5);
        assertThat(r).isSameAs(view);
        assertThat(base.storage().version()).isGreaterThan(v0);
        forEachIndex(new int[] {6, 8}, idx -> {
            int i = idx[0], j = idx[1];
            double want = before.getDouble(i, j);
            if (j % 2 == 1) want = Math.fma(0.5, other.getDouble(0, i), want);
            assertThat(base.getDouble(i, j)).as("element %s", Shape.str(idx)).isEqualTo(want);
        });
        Tensor sq = randomContiguous(rnd, DType.F32, 5, 5), sq0 = sq.copy();
        sq.addInPlace(sq.transpose(0, 1));                              // reads a snapshot of the operand
        forEachIndex(new int[] {5, 5}, idx -> assertThat(sq.getDouble(idx)).isEqualTo(
                (double) (float) (sq0.getDouble(idx) + sq0.getDouble(idx[1], idx[0]))));
        Tensor h = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2).to(DType.BF16);
        h.transpose(0, 1).addInPlace(Tensor.of(new float[] {10, 20}, 2));
        assertThat(h.toFloatArray()).containsExactly(11f, 12f, 23f, 24f);
        Tensor i = Tensor.of(new int[] {1, 2, 3}, 3);
        i.addInPlace(Tensor.of(new long[] {5, 5, 5}, 3), 2);
        assertThat(i.dtype()).isEqualTo(DType.I32);
        assertThat(i.toIntArray()).containsExactly(11, 12, 13);
    }

    @Test
    void addInPlaceRejectsBadInput() {
        Tensor a = Tensor.zeros(3, 4);
        assertThatThrownBy(() -> a.addInPlace(Tensor.zeros(4, 4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[4, 4]").hasMessageContaining("[3, 4]");
        assertThatThrownBy(() -> a.addInPlace(Tensor.zeros(2, 3, 4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 3, 4]");
        assertThatThrownBy(() -> Tensor.zeros(1, 4).expand(3, 4).addInPlace(a))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expanded");
        assertThatThrownBy(() -> Tensor.zeros(DType.I64, 3).addInPlace(Tensor.ones(3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I64");
        assertThatThrownBy(() -> Tensor.zeros(DType.I64, 3).addInPlace(Tensor.ones(DType.I64, 3), 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0.5");
    }

    @Test
    void mulInPlace() {
        Tensor base = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        int v0 = base.storage().version();
        base.slice(1, 0, 3, 2).mulInPlace(-2);
        assertThat(base.toFloatArray()).containsExactly(-2, 2, -6, -8, 5, -12);
        assertThat(base.storage().version()).isGreaterThan(v0);
        Tensor i = Tensor.of(new long[] {3, -4}, 2);
        assertThat(i.mulInPlace(3).toLongArray()).containsExactly(9, -12);
        assertThatThrownBy(() -> i.mulInPlace(0.5)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0.5");
        Tensor h = Tensor.of(new float[] {1.5f, -2f}, 2).to(DType.F16);
        assertThat(h.mulInPlace(2).toFloatArray()).containsExactly(3f, -4f);
    }

    @Test
    void broadcastErrorsNameTheOpAndShapes() {
        assertThatThrownBy(() -> Tensor.zeros(2, 3).add(Tensor.zeros(4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("add").hasMessageContaining("[2, 3]").hasMessageContaining("[4]");
        assertThatThrownBy(() -> Tensor.zeros(2, 3).lt(Tensor.zeros(3, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lt");
    }

    @Test
    void emptyAndZeroDimTensors() {
        Tensor e = Tensor.zeros(0, 3);
        assertThat(e.add(Tensor.ones(3)).shape()).containsExactly(0, 3);
        assertThat(e.exp().numel()).isZero();
        Tensor s = Tensor.scalar(DType.F64, 2.0);
        assertThat(s.mul(Tensor.of(new double[] {1, 2, 3}, 3)).toDoubleArray()).containsExactly(2, 4, 6);
        assertThat(s.exp().rank()).isZero();
        assertThat(s.exp().item()).isEqualTo(Math.exp(2.0));
    }
}
