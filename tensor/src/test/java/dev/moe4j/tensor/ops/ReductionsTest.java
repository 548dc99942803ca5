package dev.moe4j.tensor.ops;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Arrays;
import java.util.Random;

import static dev.moe4j.tensor.ops.OpsTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Reductions and softmax against naive loops over indices in double precision. */
class ReductionsTest {

    /** A random non-repeating subset of dims, each written positive or negative at random; may be empty. */
    private static int[] randomDims(Random rnd, int rank) {
        int[] all = new int[rank];
        int k = 0;
        for (int d = 0; d < rank; d++) if (rnd.nextBoolean()) all[k++] = rnd.nextBoolean() ? d : d - rank;
        int[] dims = Arrays.copyOf(all, k);
        for (int i = dims.length - 1; i > 0; i--) { int j = rnd.nextInt(i + 1); int t = dims[i]; dims[i] = dims[j]; dims[j] = t; }
        return dims;
    }

    private static boolean[] flags(int[] dims, int rank) {
        boolean[] r = new boolean[rank];
        if (dims == null || dims.length == 0) Arrays.fill(r, true);
        else for (int d : dims) r[d < 0 ? d + rank : d] = true;
        return r;
    }

    private static int[] outShape(int[] shape, boolean[] reduced, boolean keepDim) {
        int[] out = new int[shape.length];
        int k = 0;
        for (int i = 0; i < shape.length; i++) {
            if (!reduced[i]) out[k++] = shape[i];
            else if (keepDim) out[k++] = 1;
        }
        return Arrays.copyOf(out, k);
    }

    /** The input index ranges over the reduced dims with the kept ones fixed from the output index. */
    private interface Fold { void accept(double v); }

    private static void forEachReduced(Tensor a, boolean[] reduced, boolean keepDim, int[] outIdx, Fold f) {
        int[] shape = a.shape();
        int[] red = new int[shape.length];
        for (int i = 0; i < shape.length; i++) red[i] = reduced[i] ? shape[i] : 1;
        forEachIndex(red, r -> {
            int[] idx = new int[shape.length];
            for (int i = 0, k = 0; i < shape.length; i++) {
                if (reduced[i]) { idx[i] = r[i]; if (keepDim) k++; }
                else idx[i] = outIdx[k++];
            }
            f.accept(a.getDouble(idx));
        });
    }

    @Test
    void sumAndMeanOverRandomDimsAndViews() {
        Random rnd = new Random(1);
        DType[] types = {DType.F64, DType.F32, DType.BF16, DType.I32, DType.BOOL};
        for (int trial = 0; trial < 150; trial++) {
            DType dtype = types[trial % types.length];
            int[] shape = randomShape(rnd, 4, 6);
            Tensor a = randomView(rnd, dtype, shape);
            int[] dims = trial % 7 == 0 ? null : randomDims(rnd, shape.length);
            boolean keepDim = rnd.nextBoolean();
            boolean[] reduced = flags(dims, shape.length);
            int[] out = outShape(shape, reduced, keepDim);
            Tensor s = Reductions.sum(a, dims, keepDim);
            DType sumType = dtype.isFloatingPoint() ? dtype : DType.I64;
            String what = "sum " + dtype + " " + Shape.str(shape) + " dims " + Arrays.toString(dims) + " keepDim " + keepDim;
            assertElementsScaled(what, s, sumType, out, idx -> {
                double[] acc = {0, 0};
                forEachReduced(a, reduced, keepDim, idx, v -> { acc[0] += v; acc[1] += Math.abs(v); });
                return new double[] {roundTo(sumType, acc[0]), acc[1]};
            });
            if (dtype.isFloatingPoint()) {
                Tensor m = Reductions.mean(a, dims, keepDim);
                assertElementsScaled("mean: " + what, m, dtype, out, idx -> {
                    double[] acc = {0, 0, 0};
                    forEachReduced(a, reduced, keepDim, idx, v -> { acc[0] += v; acc[1]++; acc[2] += Math.abs(v); });
                    return new double[] {roundTo(dtype, acc[0] / acc[1]), acc[2] / acc[1]};
                });
            }
        }
    }

    @Test
    void sumOverTheBatchDimsOfALargeTensorUsesColumnSums() {
        Random rnd = new Random(2);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            Tensor a = randomContiguous(rnd, dtype, 7, 33, 1030);
            for (int[] dims : new int[][] {{0, 1}, {1}, {0}, {0, 2}, {2}}) {
                boolean[] reduced = flags(dims, 3);
                Tensor s = a.sum(dims, false);
                assertElementsScaled("sum " + Arrays.toString(dims), s, dtype, outShape(a.shape(), reduced, false), idx -> {
                    double[] acc = {0, 0};
                    forEachReduced(a, reduced, false, idx, v -> { acc[0] += v; acc[1] += Math.abs(v); });
                    return new double[] {roundTo(dtype, acc[0]), acc[1]};
                });
            }
        }
    }

    @Test
    void f64SumsAreGradientCheckAccurate() {
        Random rnd = new Random(3);
        Tensor a = randomContiguous(rnd, DType.F64, 300, 1001).add(1e3);
        double[] got = a.sum(1, false).toDoubleArray();
        double[] col = a.sum(0, false).toDoubleArray();
        for (int i = 0; i < 300; i++) {
            BigDecimal s = BigDecimal.ZERO;
            for (int j = 0; j < 1001; j++) s = s.add(new BigDecimal(a.getDouble(i, j)));
            assertThat(Math.abs(got[i] - s.doubleValue()) / Math.abs(s.doubleValue())).isLessThan(1e-15);
        }
        for (int j = 0; j < 1001; j += 37) {
            BigDecimal s = BigDecimal.ZERO;
            for (int i = 0; i < 300; i++) s = s.add(new BigDecimal(a.getDouble(i, j)));
            assertThat(Math.abs(col[j] - s.doubleValue()) / Math.abs(s.doubleValue())).isLessThan(1e-15);
        }
        double total = a.sum().item(), viaColumns = a.sum(0, false).sum().item();
        assertThat(Math.abs(total - viaColumns) / Math.abs(total)).isLessThan(1e-15);
    }

    @Test
    void emptyReductions() {
        Tensor e = Tensor.zeros(3, 0);
        assertThat(e.sum(1, false).toFloatArray()).containsExactly(0f, 0f, 0f);
        for (float v : e.mean(1, true).toFloatArray()) assertThat(v).isNaN();
        assertThat(e.mean(1, true).shape()).containsExactly(3, 1);
        assertThat(e.sum(0, false).shape()).containsExactly(0);
        assertThat(e.sum().item()).isZero();
        assertThat(e.logsumexp(1, false).toFloatArray()).containsExactly(Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY);
        assertThatThrownBy(() -> e.max(1, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3, 0]").hasMessageContaining("max");
        assertThatThrownBy(() -> e.argmax(1, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("argmax");
        assertThatThrownBy(() -> e.argmin(-1, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("argmin");
        assertThatThrownBy(e::max).isInstanceOf(IllegalArgumentException.class);
        assertThat(e.max(0, false).shape()).as("an empty result over a non-empty dim is fine").containsExactly(0);
    }

    @Test
    void dimErrors() {
        Tensor a = Tensor.zeros(2, 3, 4);
        assertThatThrownBy(() -> a.sum(new int[] {1, -2}, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-2").hasMessageContaining("[2, 3, 4]");
        assertThatThrownBy(() -> a.var(new int[] {0, 0}, 1, false)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> a.sum(3, false)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("3");
        assertThatThrownBy(() -> a.softmax(-4)).isInstanceOf(IndexOutOfBoundsException.class);
        Tensor i = Tensor.of(new long[] {1, 2}, 2);
        assertThatThrownBy(i::mean).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I64").hasMessageContaining("floating");
        assertThatThrownBy(() -> i.softmax(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I64");
        assertThatThrownBy(() -> i.var(null, 1, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I64");
    }

    @Test
    void maxMinArgmaxArgminAlongEachDim() {
        Random rnd = new Random(4);
        DType[] types = {DType.F32, DType.F64, DType.I64, DType.BF16};
        for (int trial = 0; trial < 100; trial++) {
            DType dtype = types[trial % types.length];
            int[] shape = randomShape(rnd, 4, 6);
            if (shape.length == 0 || Shape.numel(shape) == 0) continue;
            Tensor base = randomView(rnd, dtype, shape);
            Tensor a = trial % 3 == 0 && dtype.isFloatingPoint() ? base.mul(2.0).add(0.5).to(DType.I64).to(dtype) : base;   // ties
            if (trial % 5 == 1 && dtype.isFloatingPoint()) {
                a = a.copy();
                int[] at = new int[shape.length];
                for (int i = 0; i < shape.length; i++) at[i] = rnd.nextInt(shape[i]);
                a.set(Double.NaN, at);
            }
            int dim = rnd.nextInt(shape.length) - (rnd.nextBoolean() ? shape.length : 0);
            int d = dim < 0 ? dim + shape.length : dim;
            boolean keepDim = rnd.nextBoolean();
            boolean[] reduced = new boolean[shape.length];
            reduced[d] = true;
            int[] out = outShape(shape, reduced, keepDim);
            Tensor fa = a;
            String what = dtype + " " + Shape.str(shape) + " dim " + dim;
            assertElements("max " + what, a.max(dim, keepDim), dtype, out, idx -> extreme(fa, reduced, keepDim, idx, true, false));
            assertElements("min " + what, a.min(dim, keepDim), dtype, out, idx -> extreme(fa, reduced, keepDim, idx, false, false));
            assertElements("argmax " + what, a.argmax(dim, keepDim), DType.I64, out, idx -> extreme(fa, reduced, keepDim, idx, true, true));
            assertElements("argmin " + what, a.argmin(dim, keepDim), DType.I64, out, idx -> extreme(fa, reduced, keepDim, idx, false, true));
        }
    }

    /** Naive extreme or its first index; NaN wins. */
    private static double extreme(Tensor a, boolean[] reduced, boolean keepDim, int[] outIdx, boolean max, boolean arg) {
        double[] best = {Double.NaN, -1, 0};                        // value, index, counter
        boolean[] sawNaN = {false};
        forEachReduced(a, reduced, keepDim, outIdx, v -> {
            int i = (int) best[2]++;
            if (sawNaN[0]) return;
            if (Double.isNaN(v)) { sawNaN[0] = true; best[0] = v; best[1] = i; return; }
            if (best[1] < 0 || (max ? v > best[0] : v < best[0])) { best[0] = v; best[1] = i; }
        });
        return arg ? best[1] : best[0];
    }

    @Test
    void logsumexpIsStable() {
        Random rnd = new Random(5);
        for (int trial = 0; trial < 40; trial++) {
            DType dtype = trial % 2 == 0 ? DType.F32 : DType.F64;
            int[] shape = randomShape(rnd, 3, 7);
            if (shape.length == 0) continue;
            Tensor a = randomView(rnd, dtype, shape).mul(30.0);
            int dim = rnd.nextInt(shape.length);
            boolean keepDim = rnd.nextBoolean();
            boolean[] reduced = new boolean[shape.length];
            reduced[dim] = true;
            assertElements("logsumexp " + Shape.str(shape), a.logsumexp(dim, keepDim), dtype, outShape(shape, reduced, keepDim), idx -> {
                double[] m = {Double.NEGATIVE_INFINITY};
                forEachReduced(a, reduced, keepDim, idx, v -> m[0] = Math.max(m[0], v));
                double[] s = {0};
                forEachReduced(a, reduced, keepDim, idx, v -> s[0] += Math.exp(v - m[0]));
                return Double.isInfinite(m[0]) ? m[0] : m[0] + Math.log(s[0]);
            });
        }
        Tensor big = Tensor.of(new double[] {1000, 1000, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY}, 2, 2);
        assertThat(big.logsumexp(1, false).toDoubleArray()).containsExactly(1000 + Math.log(2), Double.NEGATIVE_INFINITY);
        assertThat(Tensor.of(new long[] {0, 0}, 2).logsumexp(0, false).dtype()).isEqualTo(DType.F32);
    }

    @Test
    void varianceOverDimsWithCorrection() {
        Random rnd = new Random(6);
        for (int trial = 0; trial < 60; trial++) {
            DType dtype = trial % 2 == 0 ? DType.F64 : DType.F32;
            int[] shape = randomShape(rnd, 4, 5);
            Tensor a = randomView(rnd, dtype, shape).add(100.0);
            int[] dims = trial % 5 == 0 ? null : randomDims(rnd, shape.length);
            int correction = rnd.nextInt(3);
            boolean keepDim = rnd.nextBoolean();
            boolean[] reduced = flags(dims, shape.length);
            Tensor v = a.var(dims, correction, keepDim);
            double rel = dtype == DType.F64 ? 1e-9 : 2e-3;
            int[] out = outShape(shape, reduced, keepDim);
            assertThat(v.shape()).containsExactly(out);
            forEachIndex(out, idx -> {
                double[] acc = {0, 0};
                forEachReduced(a, reduced, keepDim, idx, x -> { acc[0] += x; acc[1]++; });
                double mean = acc[0] / acc[1];
                double[] ss = {0};
                forEachReduced(a, reduced, keepDim, idx, x -> ss[0] += (x - mean) * (x - mean));
                double want = ss[0] / Math.max(0, acc[1] - correction);
                assertThat(close(v.getDouble(idx), want, rel, 1e-12)).as("var %s at %s: %s vs %s", Shape.str(shape),
                        Shape.str(idx), v.getDouble(idx), want).isTrue();
            });
        }
        assertThat(Tensor.of(new double[] {3}, 1).var(null, 1, false).item()).isNaN();
        assertThat(Tensor.of(new double[] {1, 3}, 2).var(null, 0, false).item()).isEqualTo(1.0);
        assertThat(Tensor.of(new double[] {1, 3}, 2).var(null, 1, false).item()).isEqualTo(2.0);
    }

    @Test
    void softmaxAndLogSoftmaxAlongAnyDim() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 60; trial++) {
            DType dtype = new DType[] {DType.F32, DType.F64, DType.BF16}[trial % 3];
            int[] shape = randomShape(rnd, 4, 6);
            if (shape.length == 0) continue;
            Tensor a = randomView(rnd, dtype, shape).mul(5.0);
            int dim = rnd.nextInt(shape.length) - (rnd.nextBoolean() ? shape.length : 0);
            int d = dim < 0 ? dim + shape.length : dim;
            boolean[] reduced = new boolean[shape.length];
            reduced[d] = true;
            Tensor s = a.softmax(dim), l = a.logSoftmax(dim);
            String what = dtype + " " + Shape.str(shape) + " dim " + dim;
            for (int pass = 0; pass < 2; pass++) {
                boolean log = pass == 1;
                assertElementsScaled((log ? "logSoftmax " : "softmax ") + what, log ? l : s, dtype, shape, idx -> {
                    int[] outIdx = new int[shape.length - 1];
                    for (int i = 0, k = 0; i < shape.length; i++) if (i != d) outIdx[k++] = idx[i];
                    double[] m = {Double.NEGATIVE_INFINITY};
                    forEachReduced(a, reduced, false, outIdx, v -> m[0] = Math.max(m[0], v));
                    double[] z = {0};
                    forEachReduced(a, reduced, false, outIdx, v -> z[0] += Math.exp(v - m[0]));
                    double x = a.getDouble(idx);
                    double p = Math.exp(x - m[0]) / z[0];
                    return log ? new double[] {roundTo(dtype, (x - m[0]) - Math.log(z[0])), Math.abs(x - m[0]) + Math.log(z[0]) + 1}
                               : new double[] {roundTo(dtype, p), p * (1 + Math.abs(x - m[0]))};
                });
            }
        }
        Tensor masked = Tensor.of(new float[] {0, Float.NEGATIVE_INFINITY, 0, 1}, 2, 2).softmax(1);
        assertThat(masked.toFloatArray()).containsExactly(1f, 0f, (float) (1 / (1 + Math.E)), (float) (Math.E / (1 + Math.E)));
    }

    @Test
    void zeroDimInputs() {
        Tensor s = Tensor.scalar(DType.F64, 2.5);
        assertThat(s.sum().rank()).isZero();
        assertThat(s.sum().item()).isEqualTo(2.5);
        assertThat(s.sum(0, true).rank()).isZero();
        assertThat(s.mean(-1, false).item()).isEqualTo(2.5);
        assertThat(s.max(0, false).item()).isEqualTo(2.5);
        assertThat(s.argmax(0, true).getLong()).isZero();
        assertThat(s.softmax(0).item()).isEqualTo(1.0);
        assertThat(s.logSoftmax(-1).item()).isEqualTo(0.0);
        assertThat(s.logsumexp(0, false).item()).isEqualTo(2.5);
        assertThat(s.var(null, 0, false).item()).isEqualTo(0.0);
        assertThatThrownBy(() -> s.sum(1, false)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(Tensor.of(new double[] {1, 5, 2}, 3).max().item()).isEqualTo(5.0);
        assertThat(Tensor.of(new long[] {4, 9, 9}, 3).argmax(0, false).getLong()).isEqualTo(1);
    }
}
