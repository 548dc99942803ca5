package dev.moe4j.tensor.ops;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tensor-level indexing ops against naive loops written with multi-indices and getDouble. */
class IndexingTest {
    private static final double[] SPECIAL = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0};

    // ------------------------------------------------------------------ helpers

    /** Every multi-index of {@code shape}, row-major. */
    static List<int[]> indices(int[] shape) {
        List<int[]> out = new ArrayList<>();
        if (Shape.numel(shape) == 0) return out;
        int[] idx = new int[shape.length];
        while (true) {
            out.add(idx.clone());
            int k = shape.length - 1;
            while (k >= 0 && ++idx[k] == shape[k]) idx[k--] = 0;
            if (k < 0) return out;
        }
    }

    static int[] randomShape(SplittableRandom rnd, int rank, int maxDim) {
        int[] s = new int[rank];
        for (int i = 0; i < rank; i++) s[i] = rnd.nextInt(maxDim + 1);
        return s;
    }

    /** A tensor of {@code dtype} with values drawn from few levels (ties), and for floats some NaN/inf/signed zeros. */
    static Tensor randomTensor(SplittableRandom rnd, DType dtype, int... shape) {
        int n = (int) Shape.numel(shape);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            int c = rnd.nextInt(10);
            if (dtype.isFloatingPoint()) {
                v[i] = c == 0 ? SPECIAL[rnd.nextInt(SPECIAL.length)] : c < 5 ? rnd.nextInt(5) - 2 : rnd.nextGaussian();
            } else if (dtype == DType.BOOL) {
                v[i] = rnd.nextInt(2);
            } else if (dtype == DType.U8) {
                v[i] = rnd.nextInt(256);
            } else {
                v[i] = rnd.nextInt(c < 5 ? 5 : 100) - (c < 5 ? 2 : 50);
            }
        }
        return Tensor.of(v, shape).to(dtype);
    }

    /** A view with the same values as {@code t} that is not contiguous: every other element of a larger tensor. */
    static Tensor strided(Tensor t) {
        int[] big = t.shape();
        for (int i = 0; i < big.length; i++) big[i] = 2 * big[i] + 1;
        Tensor view = Tensor.zeros(t.dtype(), big);
        for (int d = 0; d < big.length; d++) view = view.slice(d, 1, 1 + 2 * t.size(d), 2);
        return view.copyFrom(t);
    }

    /** A transposed view with the same values as {@code t} (rank >= 2): the storage holds t transposed. */
    static Tensor transposed(Tensor t) {
        int last = t.rank() - 1;
        return t.transpose(0, last).copy().transpose(0, last);
    }

    /** The same values in three layouts: contiguous, strided, transposed (when rank >= 2). */
    static List<Tensor> layouts(Tensor t) {
        List<Tensor> out = new ArrayList<>(List.of(t));
        if (t.rank() >= 1) out.add(strided(t));
        if (t.rank() >= 2) out.add(transposed(t));
        return out;
    }

    static int[] with(int[] idx, int dim, int value) {
        int[] c = idx.clone();
        c[dim] = value;
        return c;
    }

    static void assertSameValues(Tensor actual, double[] expected, String what) {
        if (actual.numel() > 0) {                       // (Tensor.isContiguous reports false for some empty shapes)
            assertThat(actual.isContiguous()).as(what + ": contiguous output").isTrue();
        }
        double[] got = actual.toDoubleArray();
        assertThat(got.length).as(what).isEqualTo(expected.length);
        for (int i = 0; i < got.length; i++) {
            assertThat(Double.compare(got[i] + 0.0, expected[i] + 0.0)).as(what + " at " + i + ": " + got[i] + " vs " + expected[i]).isZero();
        }
    }

    /** The order topk and argsort promise, written independently: NaN largest, -0.0 == 0.0. */
    static int order(double a, double b) {
        boolean na = Double.isNaN(a), nb = Double.isNaN(b);
        if (na || nb) return na == nb ? 0 : na ? 1 : -1;
        return a < b ? -1 : a > b ? 1 : 0;
    }

    /** Positions along dim of the row through idx, sorted stably by value. */
    static Integer[] sortedRow(Tensor a, int[] idx, int dim, boolean descending) {
        return sortedRow(a, idx, dim, descending, new HashMap<>());
    }

    /** As above, remembering each row's answer in {@code cache}. */
    static Integer[] sortedRow(Tensor a, int[] idx, int dim, boolean descending, Map<String, Integer[]> cache) {
        return cache.computeIfAbsent(Arrays.toString(with(idx, dim, 0)), key -> sortRow(a, idx, dim, descending));
    }

    private static Integer[] sortRow(Tensor a, int[] idx, int dim, boolean descending) {
        int n = a.size(dim);
        Integer[] p = new Integer[n];
        for (int i = 0; i < n; i++) p[i] = i;
        Comparator<Integer> asc = (i, j) -> order(a.getDouble(with(idx, dim, i)), a.getDouble(with(idx, dim, j)));
        Arrays.sort(p, descending ? asc.reversed() : asc);
        return p;
    }

    // ------------------------------------------------------------------ indexSelect

    @Test
    void indexSelectMatchesNaiveLoops() {
        SplittableRandom rnd = new SplittableRandom(101);
        DType[] types = {DType.F32, DType.F64, DType.I32, DType.I64, DType.BF16, DType.BOOL, DType.U8};
        for (int trial = 0; trial < 60; trial++) {
            int rank = 1 + rnd.nextInt(3);
            DType dt = types[trial % types.length];
            Tensor a = randomTensor(rnd, dt, randomShape(rnd, rank, 5));
            int dim = rnd.nextInt(rank);
            int n = a.size(dim);
            int m = n == 0 ? 0 : rnd.nextInt(7);
            long[] ix = new long[m];
            for (int j = 0; j < m; j++) ix[j] = rnd.nextInt(n);
            Tensor index = trial % 2 == 0 ? Tensor.of(ix, m) : strided(Tensor.of(ix, m).to(DType.I32));
            for (Tensor view : layouts(a)) {
                Tensor out = Indexing.indexSelect(view, dim - (trial % 3 == 0 ? rank : 0), index);
                int[] outShape = with(a.shape(), dim, m);
                assertThat(out.shape()).isEqualTo(outShape);
                assertThat(out.dtype()).isEqualTo(dt);
                double[] expected = indices(outShape).stream().mapToDouble(o -> a.getDouble(with(o, dim, (int) ix[o[dim]]))).toArray();
                assertSameValues(out, expected, "indexSelect " + Shape.str(a.shape()) + " dim " + dim);
            }
        }
    }

    @Test
    void indexSelectChecksIndicesFirst() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertThatThrownBy(() -> Indexing.indexSelect(a, 1, Tensor.of(new long[] {0, 3}, 2)))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("index 3").hasMessageContaining("size 3");
        assertThatThrownBy(() -> Indexing.indexSelect(a, 0, Tensor.of(new int[] {-1}, 1)))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("index -1").hasMessageContaining("size 2");
        assertThatThrownBy(() -> Indexing.indexSelect(a, 0, Tensor.of(new float[] {0}, 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32");
        assertThatThrownBy(() -> Indexing.indexSelect(a, 0, Tensor.of(new long[] {0, 1}, 1, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[1, 2]");
        assertThatThrownBy(() -> Indexing.indexSelect(a, 2, Tensor.of(new long[] {0}, 1)))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("dim 2");
    }

    @Test
    void indexSelectOnZeroDimTensor() {
        Tensor s = Tensor.scalar(DType.F32, 4.5);
        Tensor out = Indexing.indexSelect(s, 0, Tensor.of(new long[] {0}, 1));
        assertThat(out.rank()).isZero();
        assertThat(out.item()).isEqualTo(4.5);
    }

    // ------------------------------------------------------------------ gather

    @Test
    void gatherMatchesNaiveLoops() {
        SplittableRandom rnd = new SplittableRandom(102);
        DType[] types = {DType.F32, DType.F64, DType.I64, DType.F16, DType.I16};
        for (int trial = 0; trial < 60; trial++) {
            int rank = 1 + rnd.nextInt(3);
            DType dt = types[trial % types.length];
            Tensor a = randomTensor(rnd, dt, randomShape(rnd, rank, 5));
            int dim = rnd.nextInt(rank);
            int n = a.size(dim);
            int[] ishape = new int[rank];
            for (int k = 0; k < rank; k++) ishape[k] = k == dim ? (n == 0 ? 0 : rnd.nextInt(7)) : rnd.nextInt(a.size(k) + 1);
            long[] ix = new long[(int) Shape.numel(ishape)];
            for (int e = 0; e < ix.length; e++) ix[e] = rnd.nextInt(n);
            Tensor index = Tensor.of(ix, ishape);
            for (Tensor view : layouts(a)) {
                for (Tensor iview : List.of(index, strided(index).to(DType.I32))) {
                    Tensor out = Indexing.gather(view, dim, iview);
                    assertThat(out.shape()).isEqualTo(ishape);
                    double[] expected = indices(ishape).stream().mapToDouble(o -> a.getDouble(with(o, dim, (int) index.getLong(o)))).toArray();
                    assertSameValues(out, expected, "gather " + Shape.str(a.shape()) + " dim " + dim + " index " + Shape.str(ishape));
                }
            }
        }
    }

    @Test
    void gatherChecksShapesAndIndices() {
        Tensor a = Tensor.zeros(2, 3);
        assertThatThrownBy(() -> Indexing.gather(a, 1, Tensor.zeros(DType.I64, 3, 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3, 1]").hasMessageContaining("[2, 3]");
        assertThatThrownBy(() -> Indexing.gather(a, 1, Tensor.zeros(DType.I64, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank");
        assertThatThrownBy(() -> Indexing.gather(a, 1, Tensor.of(new long[] {0, 5}, 2, 1)))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("index 5").hasMessageContaining("size 3");
    }

    // ------------------------------------------------------------------ scatterAdd and indexAdd

    @Test
    void scatterAddMatchesNaiveLoops() {
        SplittableRandom rnd = new SplittableRandom(103);
        DType[] types = {DType.F32, DType.F64, DType.I32, DType.I64};
        for (int trial = 0; trial < 60; trial++) {
            int rank = 1 + rnd.nextInt(3);
            DType dt = types[trial % types.length];
            int[] shape = randomShape(rnd, rank, 4);
            int dim = rnd.nextInt(rank);
            if (shape[dim] == 0) shape[dim] = 1;
            Tensor a = randomTensor(rnd, dt, shape);
            int[] ishape = new int[rank], sshape = new int[rank];
            for (int k = 0; k < rank; k++) {
                ishape[k] = k == dim ? rnd.nextInt(6) : rnd.nextInt(shape[k] + 1);
                sshape[k] = ishape[k] + rnd.nextInt(2);                 // src may be larger than index
            }
            long[] ix = new long[(int) Shape.numel(ishape)];
            for (int e = 0; e < ix.length; e++) ix[e] = rnd.nextInt(shape[dim]);
            Tensor index = Tensor.of(ix, ishape);
            Tensor src = randomTensor(rnd, dt, sshape);
            double[] before = a.toDoubleArray();
            // naive: walk index row-major, add in the dtype's arithmetic
            Tensor expected = a.copy();
            for (int[] p : indices(ishape)) {
                int[] target = with(p, dim, (int) index.getLong(p));
                double sum = dt == DType.F32 ? (float) expected.getDouble(target) + (float) src.getDouble(p)
                        : expected.getDouble(target) + src.getDouble(p);
                expected.set(sum, target);
            }
            for (Tensor view : layouts(a)) {
                Tensor out = Indexing.scatterAdd(view, dim, strided(index), transposedIfPossible(src));
                assertThat(out.shape()).isEqualTo(shape);
                assertSameValues(out, expected.toDoubleArray(), "scatterAdd " + Shape.str(shape) + " dim " + dim + " index " + Shape.str(ishape));
                assertThat(view.toDoubleArray()).as("input unchanged").isEqualTo(before);
            }
        }
    }

    private static Tensor transposedIfPossible(Tensor t) { return t.rank() >= 2 ? transposed(t) : strided(t); }

    @Test
    void scatterAddChecksArguments() {
        Tensor a = Tensor.zeros(3, 4);
        Tensor idx = Tensor.of(new long[] {0, 1, 2, 3}, 2, 2);
        assertThatThrownBy(() -> Indexing.scatterAdd(a, 0, idx, Tensor.zeros(2, 2)))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("index 3").hasMessageContaining("size 3");
        assertThatThrownBy(() -> Indexing.scatterAdd(a, 1, idx, Tensor.zeros(1, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 2]").hasMessageContaining("[1, 2]");
        assertThatThrownBy(() -> Indexing.scatterAdd(a, 1, idx, Tensor.zeros(DType.F64, 2, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        assertThatThrownBy(() -> Indexing.scatterAdd(Tensor.zeros(1, 4), 1, idx, Tensor.zeros(2, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[1, 4]");
    }

    @Test
    void indexAddMatchesNaiveLoops() {
        SplittableRandom rnd = new SplittableRandom(104);
        DType[] types = {DType.F32, DType.F64, DType.I32, DType.I64, DType.BF16};
        for (int trial = 0; trial < 50; trial++) {
            int rank = 1 + rnd.nextInt(3);
            DType dt = types[trial % types.length];
            int[] shape = randomShape(rnd, rank, 4);
            int dim = rnd.nextInt(rank);
            if (shape[dim] == 0) shape[dim] = 2;
            if (trial % 7 == 0) shape[rank - 1] = 21;                // rows longer than a vector
            Tensor a = randomTensor(rnd, dt, shape);
            int m = rnd.nextInt(6);
            long[] ix = new long[m];
            for (int j = 0; j < m; j++) ix[j] = rnd.nextInt(shape[dim]);
            Tensor src = randomTensor(rnd, dt, with(shape, dim, m));
            Tensor index = Tensor.of(ix, m).to(trial % 2 == 0 ? DType.I64 : DType.I32);
            double[] acc = new double[a.numel()];
            List<int[]> all = indices(shape);
            for (int e = 0; e < acc.length; e++) acc[e] = a.getDouble(all.get(e));
            int[] strides = Shape.contiguousStrides(shape);
            for (int[] p : indices(src.shape())) {
                int[] target = with(p, dim, (int) ix[p[dim]]);
                int flat = 0;
                for (int k = 0; k < rank; k++) flat += target[k] * strides[k];
                acc[flat] = dt == DType.F64 || !dt.isFloatingPoint() ? acc[flat] + src.getDouble(p) : (float) acc[flat] + (float) src.getDouble(p);
            }
            double[] expected = Tensor.of(acc, shape).to(dt).toDoubleArray();
            for (Tensor view : layouts(a)) {
                Tensor out = Indexing.indexAdd(view, dim, index, strided(src));
                assertThat(out.dtype()).isEqualTo(dt);
                assertSameValues(out, expected, "indexAdd " + Shape.str(shape) + " dim " + dim + " m " + m);
            }
        }
    }

    @Test
    void indexAddChecksArguments() {
        Tensor a = Tensor.zeros(3, 4);
        assertThatThrownBy(() -> Indexing.indexAdd(a, 0, Tensor.of(new long[] {0, 1}, 2), Tensor.zeros(2, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 3]").hasMessageContaining("[3, 4]");
        assertThatThrownBy(() -> Indexing.indexAdd(a, 0, Tensor.of(new long[] {0, 3}, 2), Tensor.zeros(2, 4)))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("index 3").hasMessageContaining("size 3");
    }

    // ------------------------------------------------------------------ topk and argsort

    @Test
    void topkMatchesAStableSortOnEveryDim() {
        SplittableRandom rnd = new SplittableRandom(105);
        DType[] types = {DType.F32, DType.F64, DType.I32, DType.I64, DType.BF16, DType.U8};
        for (int trial = 0; trial < 48; trial++) {
            int rank = 1 + rnd.nextInt(3);
            DType dt = types[trial % types.length];
            int[] shape = randomShape(rnd, rank, 4);
            int dim = rnd.nextInt(rank);
            if (trial % 4 == 0) shape[dim] = 40 + rnd.nextInt(30);        // long rows: both selection and full sort
            Tensor a = randomTensor(rnd, dt, shape);
            int n = shape[dim];
            int[] ks = {0, Math.min(1, n), Math.min(3, n), n, Math.max(0, n - 1), Math.min(n, 35)};
            for (Tensor view : layouts(a)) {
                for (int k : ks) {
                    for (boolean largest : new boolean[] {true, false}) {
                        TopK t = Indexing.topk(view, k, dim, largest);
                        int[] outShape = with(shape, dim, k);
                        assertThat(t.values().shape()).isEqualTo(outShape);
                        assertThat(t.values().dtype()).isEqualTo(dt);
                        assertThat(t.indices().dtype()).isEqualTo(DType.I64);
                        List<int[]> outs = indices(outShape);
                        Map<String, Integer[]> cache = new HashMap<>();
                        double[] ev = new double[outs.size()], ei = new double[outs.size()];
                        for (int e = 0; e < outs.size(); e++) {
                            int[] o = outs.get(e);
                            Integer[] sorted = sortedRow(a, o, dim, largest, cache);
                            ei[e] = sorted[o[dim]];
                            ev[e] = a.getDouble(with(o, dim, sorted[o[dim]]));
                        }
                        String what = "topk " + dt + Shape.str(shape) + " k " + k + " dim " + dim + " largest " + largest;
                        assertSameValues(t.indices(), ei, what + " indices");
                        assertSameValues(t.values(), ev, what + " values");
                    }
                }
            }
        }
    }

    @Test
    void topkTiesAndNan() {
        Tensor a = Tensor.of(new float[] {2, Float.NaN, 5, 5, Float.NaN, 2, -1}, 7);
        TopK top = Indexing.topk(a, 4, 0, true);
        assertThat(top.indices().toLongArray()).containsExactly(1, 4, 2, 3);
        TopK bottom = Indexing.topk(a, 4, 0, false);
        assertThat(bottom.indices().toLongArray()).containsExactly(6, 0, 5, 2);
        assertThat(bottom.values().toDoubleArray()).containsExactly(-1, 2, 2, 5);
        TopK all = Indexing.topk(a, 7, -1, false);
        assertThat(all.indices().toLongArray()).containsExactly(6, 0, 5, 2, 3, 1, 4);
    }

    @Test
    void topkChecksK() {
        Tensor a = Tensor.zeros(2, 3);
        assertThatThrownBy(() -> Indexing.topk(a, 4, 1, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k = 4").hasMessageContaining("size 3").hasMessageContaining("[2, 3]");
        assertThatThrownBy(() -> Indexing.topk(a, -1, 0, true)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k = -1");
        assertThatThrownBy(() -> Indexing.topk(a, 1, 2, true)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void argsortIsStableInBothDirections() {
        SplittableRandom rnd = new SplittableRandom(106);
        DType[] types = {DType.F32, DType.F64, DType.I64, DType.I8, DType.F16, DType.BOOL};
        for (int trial = 0; trial < 36; trial++) {
            int rank = 1 + rnd.nextInt(3);
            DType dt = types[trial % types.length];
            int[] shape = randomShape(rnd, rank, 5);
            int dim = rnd.nextInt(rank);
            if (trial % 5 == 0) shape[dim] = 50;
            Tensor a = randomTensor(rnd, dt, shape);
            for (Tensor view : layouts(a)) {
                for (boolean desc : new boolean[] {false, true}) {
                    Tensor p = Indexing.argsort(view, dim, desc);
                    assertThat(p.shape()).isEqualTo(shape);
                    assertThat(p.dtype()).isEqualTo(DType.I64);
                    Map<String, Integer[]> cache = new HashMap<>();
                    double[] expected = indices(shape).stream().mapToDouble(o -> sortedRow(a, o, dim, desc, cache)[o[dim]]).toArray();
                    assertSameValues(p, expected, "argsort " + dt + Shape.str(shape) + " dim " + dim + " desc " + desc);
                }
            }
        }
    }

    @Test
    void argsortOfTiesKeepsPositions() {
        Tensor a = Tensor.of(new long[] {3, 1, 3, 1, 3}, 5);
        assertThat(Indexing.argsort(a, 0, false).toLongArray()).containsExactly(1, 3, 0, 2, 4);
        assertThat(Indexing.argsort(a, 0, true).toLongArray()).containsExactly(0, 2, 4, 1, 3);
    }

    // ------------------------------------------------------------------ cumsum and bincount

    @Test
    void cumsumMatchesNaiveLoops() {
        SplittableRandom rnd = new SplittableRandom(107);
        DType[] types = {DType.F32, DType.F64, DType.I32, DType.I64, DType.BOOL, DType.BF16};
        for (int trial = 0; trial < 48; trial++) {
            int rank = 1 + rnd.nextInt(3);
            DType dt = types[trial % types.length];
            int[] shape = randomShape(rnd, rank, 5);
            if (trial % 6 == 1) shape[rank - 1] = 19;
            int dim = rnd.nextInt(rank);
            Tensor a = randomTensor(rnd, dt, shape);
            DType outType = dt.isFloatingPoint() ? dt : DType.I64;
            double[] sums = indices(shape).stream().mapToDouble(o -> {
                double s = 0;
                for (int t = 0; t <= o[dim]; t++) s += a.getDouble(with(o, dim, t));
                return s;
            }).toArray();
            double[] expected = Tensor.of(sums, shape).to(outType).toDoubleArray();   // one rounding, as a double accumulator gives
            for (Tensor view : layouts(a)) {
                Tensor out = Indexing.cumsum(view, dim);
                assertThat(out.dtype()).isEqualTo(outType);
                assertSameValues(out, expected, "cumsum " + dt + Shape.str(shape) + " dim " + dim);
            }
        }
    }

    @Test
    void bincountMatchesNaiveCounts() {
        SplittableRandom rnd = new SplittableRandom(108);
        for (DType dt : new DType[] {DType.I64, DType.I32, DType.U8, DType.I16}) {
            for (int n : new int[] {0, 1, 7, 200}) {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = rnd.nextInt(12);
                Tensor a = Tensor.of(v, n).to(dt);
                for (int minLength : new int[] {0, 5, 20}) {
                    for (Tensor view : layouts(a)) {
                        Tensor c = Indexing.bincount(view, minLength);
                        long max = Arrays.stream(v).max().orElse(-1);
                        assertThat(c.dtype()).isEqualTo(DType.I64);
                        assertThat(c.shape()).containsExactly((int) Math.max(minLength, max + 1));
                        long[] counts = c.toLongArray();
                        for (int b = 0; b < counts.length; b++) {
                            final int bin = b;
                            assertThat(counts[b]).isEqualTo(Arrays.stream(v).filter(x -> x == bin).count());
                        }
                    }
                }
            }
        }
    }

    @Test
    void bincountChecksArguments() {
        assertThatThrownBy(() -> Indexing.bincount(Tensor.of(new long[] {1, -3, 2}, 3), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-3");
        assertThatThrownBy(() -> Indexing.bincount(Tensor.of(new float[] {1}, 1), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32");
        assertThatThrownBy(() -> Indexing.bincount(Tensor.zeros(DType.I64, 2, 2), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 2]");
        assertThatThrownBy(() -> Indexing.bincount(Tensor.zeros(DType.I64, 2), -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
    }

    // ------------------------------------------------------------------ cat and stack

    @Test
    void catMatchesNaiveLoops() {
        SplittableRandom rnd = new SplittableRandom(109);
        DType[] types = {DType.F32, DType.I64, DType.BF16, DType.I32, DType.F64};
        for (int trial = 0; trial < 40; trial++) {
            int rank = 1 + rnd.nextInt(3);
            int[] base = randomShape(rnd, rank, 4);
            int dim = rnd.nextInt(rank);
            int count = 1 + rnd.nextInt(4);
            List<Tensor> parts = new ArrayList<>();
            DType promoted = null;
            for (int t = 0; t < count; t++) {
                DType dt = types[rnd.nextInt(types.length)];
                promoted = promoted == null ? dt : DType.promote(promoted, dt);
                Tensor p = randomTensor(rnd, dt, with(base, dim, rnd.nextInt(4)));
                parts.add(t % 2 == 1 ? strided(p) : p.rank() >= 2 ? transposed(p) : p);
            }
            Tensor out = Indexing.cat(parts, dim);
            int total = parts.stream().mapToInt(p -> p.size(dim)).sum();
            int[] outShape = with(base, dim, total);
            assertThat(out.shape()).isEqualTo(outShape);
            assertThat(out.dtype()).isEqualTo(promoted);
            final DType pt = promoted;
            double[] expected = indices(outShape).stream().mapToDouble(o -> {
                int j = o[dim];
                for (Tensor p : parts) {
                    if (j < p.size(dim)) return p.to(pt).getDouble(with(o, dim, j));
                    j -= p.size(dim);
                }
                throw new AssertionError();
            }).toArray();
            assertSameValues(out, expected, "cat dim " + dim + " " + Shape.str(outShape));
        }
    }

    @Test
    void catSkipsLegacyEmptyTensorsAndChecksShapes() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor out = Indexing.cat(List.of(Tensor.zeros(DType.F64, 0), a, Tensor.zeros(0)), 1);
        assertThat(out.shape()).containsExactly(2, 2);
        assertThat(out.dtype()).isEqualTo(DType.F64);
        assertThat(out.toDoubleArray()).containsExactly(1, 2, 3, 4);
        assertThat(Indexing.cat(List.of(Tensor.zeros(0), Tensor.zeros(DType.I64, 0)), 0).shape()).containsExactly(0);
        assertThatThrownBy(() -> Indexing.cat(List.of(a, Tensor.zeros(3, 2)), 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 2]").hasMessageContaining("[3, 2]");
        assertThatThrownBy(() -> Indexing.cat(List.of(a, Tensor.zeros(2)), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2]");
        assertThatThrownBy(() -> Indexing.cat(List.of(), 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Indexing.cat(List.of(Tensor.scalar(DType.F32, 1)), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0-dim");
    }

    @Test
    void stackMatchesNaiveLoops() {
        SplittableRandom rnd = new SplittableRandom(110);
        for (int trial = 0; trial < 20; trial++) {
            int rank = rnd.nextInt(3);
            int[] shape = randomShape(rnd, rank, 4);
            int count = 1 + rnd.nextInt(3);
            List<Tensor> parts = new ArrayList<>();
            for (int t = 0; t < count; t++) {
                Tensor p = randomTensor(rnd, t == 1 ? DType.F64 : DType.F32, shape);
                parts.add(rank >= 1 && t % 2 == 0 ? strided(p) : p);
            }
            int dim = rnd.nextInt(rank + 1);
            Tensor out = Indexing.stack(parts, dim - (trial % 2 == 0 ? rank + 1 : 0));
            int[] outShape = new int[rank + 1];
            for (int k = 0, j = 0; k <= rank; k++) outShape[k] = k == dim ? count : shape[j++];
            assertThat(out.shape()).isEqualTo(outShape);
            assertThat(out.dtype()).isEqualTo(count > 1 ? DType.F64 : DType.F32);
            Function<int[], int[]> drop = o -> {
                int[] r = new int[rank];
                for (int k = 0, j = 0; k <= rank; k++) if (k != dim) r[j++] = o[k];
                return r;
            };
            double[] expected = indices(outShape).stream().mapToDouble(o -> parts.get(o[dim]).getDouble(drop.apply(o))).toArray();
            assertSameValues(out, expected, "stack dim " + dim + " " + Shape.str(outShape));
        }
        assertThatThrownBy(() -> Indexing.stack(List.of(Tensor.zeros(2, 3), Tensor.zeros(3, 2)), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 3]").hasMessageContaining("[3, 2]");
    }

    @Test
    void zeroDimInputsBehaveAsOneElement() {
        Tensor s = Tensor.scalar(DType.F64, -2.5);
        TopK t = Indexing.topk(s, 1, 0, true);
        assertThat(t.values().rank()).isZero();
        assertThat(t.values().item()).isEqualTo(-2.5);
        assertThat(t.indices().item()).isZero();
        assertThat(Indexing.argsort(s, -1, false).rank()).isZero();
        assertThat(Indexing.cumsum(s, 0).item()).isEqualTo(-2.5);
        assertThat(Indexing.cumsum(Tensor.scalar(DType.I32, 3), 0).dtype()).isEqualTo(DType.I64);
    }
}
