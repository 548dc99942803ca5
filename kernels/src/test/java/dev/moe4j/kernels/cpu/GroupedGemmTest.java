package dev.moe4j.kernels.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.moe4j.kernels.cpu.GroupedGemm.Layout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link GroupedGemm}: the fast forward and backward products against the scalar references, and
 * the references against a per-group {@link Gemm#dgemmReference} (so the grouping itself is checked
 * against a plain GEMM).
 */
class GroupedGemmTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() { Parallel.setThreads(savedThreads); }

    /** Row counts per group: uniform, skewed, empty groups first / middle / last, all empty, one group, none. */
    static final int[][] GROUPS = {
        {40, 40, 40, 40},
        {300, 3, 1, 0, 17},            // skewed: one hot expert
        {0, 25, 0, 0, 13, 0},           // empty groups around
        {0, 0, 0},                      // no tokens at all
        {1},                            // one group, one row
        {},                             // no groups (offsets = {0})
        {7, 0, 130, 1, 0, 2, 64, 0},
    };

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int[][] kn = {{16, 32}, {33, 17}, {1, 5}, {70, 0}, {0, 9}, {129, 70}};
        int q = 0;
        for (int[] groups : GROUPS) {
            for (Layout layout : Layout.values()) {
                int[] s = kn[q++ % kn.length];
                out.add(Arguments.of(groups, s[0], s[1], layout));
            }
        }
        // Large enough to be cut into several tasks: the hot group is split over the threads.
        out.add(Arguments.of(new int[] {600, 2, 0, 40}, 129, 70, Layout.KN));
        out.add(Arguments.of(new int[] {0, 40, 2, 600}, 70, 129, Layout.NK));
        Random r = new Random(9);
        for (int i = 0; i < 6; i++) {
            int e = 1 + r.nextInt(9);
            int[] groups = new int[e];
            for (int g = 0; g < e; g++) groups[g] = r.nextInt(4) == 0 ? 0 : r.nextInt(60);
            out.add(Arguments.of(groups, 1 + r.nextInt(80), 1 + r.nextInt(80), r.nextBoolean() ? Layout.KN : Layout.NK));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "groups={0} K={1} N={2} {3}")
    @MethodSource("cases")
    void fastMatchesReferenceForAllThreeProducts(int[] groups, int k, int n, Layout layout) {
        int[] offsets = offsets(groups, 2);
        for (int threads : new int[] {1, 2}) {
            Parallel.setThreads(threads);
            Random r = new Random(Arrays.hashCode(groups) * 31L + k * 7L + n + threads);
            checkForward(r, offsets, k, n, layout, 1f, 0f);
            checkForward(r, offsets, k, n, layout, -0.5f, 1.5f);
            checkBackwardInput(r, offsets, k, n, layout, 1f, 0f);
            checkBackwardInput(r, offsets, k, n, layout, 2f, 1f);
            checkBackwardWeight(r, offsets, k, n, layout, 1f, 0f);
            checkBackwardWeight(r, offsets, k, n, layout, 0.5f, -1f);
        }
    }

    @ParameterizedTest(name = "groups={0} K={1} N={2} {3}")
    @MethodSource("cases")
    void doubleFastMatchesDoubleReference(int[] groups, int k, int n, Layout layout) {
        int[] offsets = offsets(groups, 0);
        Parallel.setThreads(2);
        Random r = new Random(Arrays.hashCode(groups) + 3L * k + n);
        int mm = GroupedGemm.rows(offsets), e = groups.length;
        double[] a = GemmChecks.randomDoubles(r, mm * k), b = GemmChecks.randomDoubles(r, e * k * n);
        double[] dc = GemmChecks.randomDoubles(r, mm * n);
        double[] c1 = new double[mm * n], c2 = new double[mm * n];
        GroupedGemm.forwardReference(offsets, k, n, 1.0, a, 0, b, 0, layout, 0.0, c1, 0);
        GroupedGemm.forward(offsets, k, n, 1.0, a, 0, b, 0, layout, 0.0, c2, 0);
        GemmChecks.assertClose("forward f64", c2, c1, filled(c1.length, k));
        double[] da1 = new double[mm * k], da2 = new double[mm * k];
        GroupedGemm.backwardInputReference(offsets, k, n, 1.0, dc, 0, b, 0, layout, 0.0, da1, 0);
        GroupedGemm.backwardInput(offsets, k, n, 1.0, dc, 0, b, 0, layout, 0.0, da2, 0);
        GemmChecks.assertClose("backwardInput f64", da2, da1, filled(da1.length, n));
        double[] db1 = GemmChecks.randomDoubles(r, e * k * n), db2 = db1.clone();
        GroupedGemm.backwardWeightReference(offsets, k, n, 1.0, a, 0, dc, 0, 0.0, db1, 0, layout);
        GroupedGemm.backwardWeight(offsets, k, n, 1.0, a, 0, dc, 0, 0.0, db2, 0, layout);
        GemmChecks.assertClose("backwardWeight f64", db2, db1, filled(db1.length, mm));
    }

    @Test
    void referenceEqualsOneGemmPerGroup() {
        int[] groups = {5, 0, 9, 3};
        int[] offsets = offsets(groups, 0);
        int k = 7, n = 6, mm = 17, e = 4;
        Random r = new Random(1);
        double[] a = GemmChecks.randomDoubles(r, mm * k), b = GemmChecks.randomDoubles(r, e * n * k);
        double[] dc = GemmChecks.randomDoubles(r, mm * n);
        double[] got = new double[mm * n], want = new double[mm * n];
        GroupedGemm.forwardReference(offsets, k, n, 1.0, a, 0, b, 0, Layout.NK, 0.0, got, 0);
        for (int g = 0; g < e; g++) {
            int rows = offsets[g + 1] - offsets[g];
            // B_e stored [N, K]: read as [K, N] with strides (1, K)
            Gemm.dgemmReference(rows, n, k, 1.0, a, offsets[g] * k, k, 1, b, g * n * k, 1, k, 0.0, want, offsets[g] * n, n);
        }
        GemmChecks.assertClose("forward vs per-group GEMM", got, want, filled(want.length, k));
        double[] db = new double[e * k * n], dbWant = new double[e * k * n];
        Arrays.fill(db, 5.0);  // the empty group must come out as zero
        GroupedGemm.backwardWeightReference(offsets, k, n, 1.0, a, 0, dc, 0, 0.0, db, 0, Layout.KN);
        for (int g = 0; g < e; g++) {
            int rows = offsets[g + 1] - offsets[g];
            Gemm.dgemmReference(k, n, rows, 1.0, a, offsets[g] * k, 1, k, dc, offsets[g] * n, n, 1, 0.0, dbWant, g * k * n, n);
        }
        GemmChecks.assertClose("backwardWeight vs per-group GEMM", db, dbWant, filled(db.length, mm));
        assertThat(Arrays.copyOfRange(db, k * n, 2 * k * n)).containsOnly(0.0);
    }

    @Test
    void rowsBeforeTheFirstOffsetAreUntouched() {
        int[] offsets = {3, 5, 8};
        int k = 4, n = 3;
        float[] a = GemmChecks.randomFloats(new Random(2), 8 * k), b = GemmChecks.randomFloats(new Random(3), 2 * k * n);
        float[] c = new float[8 * n];
        Arrays.fill(c, 7f);
        GroupedGemm.forward(offsets, k, n, 1f, a, 0, b, 0, Layout.KN, 0f, c, 0);
        assertThat(Arrays.copyOfRange(c, 0, 3 * n)).containsOnly(7f);
        assertThat(Arrays.copyOfRange(c, 3 * n, 8 * n)).doesNotContain(7f);
    }

    @Test
    void badArgumentsAreRejected() {
        float[] a = new float[12], b = new float[24], c = new float[12];
        assertThatThrownBy(() -> GroupedGemm.forward(new int[] {0, 3, 2}, 4, 3, 1f, a, 0, b, 0, Layout.KN, 0f, c, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("non-decreasing");
        assertThatThrownBy(() -> GroupedGemm.forward(new int[] {}, 4, 3, 1f, a, 0, b, 0, Layout.KN, 0f, c, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E + 1");
        assertThatThrownBy(() -> GroupedGemm.forward(new int[] {0, 2, 4}, 4, 3, 1f, a, 0, b, 0, Layout.KN, 0f, c, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A [4, 4]");
        assertThatThrownBy(() -> GroupedGemm.forward(new int[] {0, 1, 3}, 4, 3, 1f, a, 0, b, 1, Layout.NK, 0f, c, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("B [2, 3, 4]");
        assertThatThrownBy(() -> GroupedGemm.backwardWeight(new int[] {0, 3}, 4, 3, 1f, a, 0, c, 0, 0f, new float[11], 0, Layout.KN))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dB [1, 4, 3]");
        assertThatThrownBy(() -> GroupedGemm.backwardInput(new int[] {0, 3}, 4, 3, 1f, c, 0, b, 0, null, 0f, a, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("layout");
        assertThat(c).containsOnly(0f);
    }

    // ------------------------------------------------------------------ helpers

    private static int[] offsets(int[] groups, int start) {
        int[] off = new int[groups.length + 1];
        off[0] = start;
        for (int g = 0; g < groups.length; g++) off[g + 1] = off[g] + groups[g];
        return off;
    }

    private static double[] filled(int n, double v) {
        double[] s = new double[n];
        Arrays.fill(s, v);
        return s;
    }

    private static void checkForward(Random r, int[] off, int k, int n, Layout layout, float alpha, float beta) {
        int mm = GroupedGemm.rows(off), e = off.length - 1;
        float[] a = GemmChecks.randomFloats(r, mm * k), b = GemmChecks.randomFloats(r, e * k * n);
        float[] c0 = GemmChecks.randomFloats(r, mm * n);
        double[] scale = scaleRows(off, n, Math.abs(alpha) * k + Math.abs(beta));
        float[] want = c0.clone(), got = c0.clone();
        GroupedGemm.forwardReference(off, k, n, alpha, a, 0, b, 0, layout, beta, want, 0);
        GroupedGemm.forward(off, k, n, alpha, a, 0, b, 0, layout, beta, got, 0);
        GemmChecks.assertClose("forward " + layout, got, want, scale);
    }

    private static void checkBackwardInput(Random r, int[] off, int k, int n, Layout layout, float alpha, float beta) {
        int mm = GroupedGemm.rows(off), e = off.length - 1;
        float[] dc = GemmChecks.randomFloats(r, mm * n), b = GemmChecks.randomFloats(r, e * k * n);
        float[] da0 = GemmChecks.randomFloats(r, mm * k);
        double[] scale = scaleRows(off, k, Math.abs(alpha) * n + Math.abs(beta));
        float[] want = da0.clone(), got = da0.clone();
        GroupedGemm.backwardInputReference(off, k, n, alpha, dc, 0, b, 0, layout, beta, want, 0);
        GroupedGemm.backwardInput(off, k, n, alpha, dc, 0, b, 0, layout, beta, got, 0);
        GemmChecks.assertClose("backwardInput " + layout, got, want, scale);
    }

    private static void checkBackwardWeight(Random r, int[] off, int k, int n, Layout layout, float alpha, float beta) {
        int mm = GroupedGemm.rows(off), e = off.length - 1;
        float[] a = GemmChecks.randomFloats(r, mm * k), dc = GemmChecks.randomFloats(r, mm * n);
        float[] db0 = GemmChecks.randomFloats(r, e * k * n);
        double[] scale = new double[db0.length];
        for (int g = 0; g < e; g++) {
            Arrays.fill(scale, g * k * n, (g + 1) * k * n, Math.abs(alpha) * (off[g + 1] - off[g]) + Math.abs(beta));
        }
        float[] want = db0.clone(), got = db0.clone();
        GroupedGemm.backwardWeightReference(off, k, n, alpha, a, 0, dc, 0, beta, want, 0, layout);
        GroupedGemm.backwardWeight(off, k, n, alpha, a, 0, dc, 0, beta, got, 0, layout);
        GemmChecks.assertClose("backwardWeight " + layout, got, want, scale);
    }

    /** Bound per output element: rows inside the groups get {@code s} (|values| <= 1), rows before offsets[0] must stay exact. */
    private static double[] scaleRows(int[] off, int width, double s) {
        int mm = GroupedGemm.rows(off);
        double[] scale = new double[mm * width];
        Arrays.fill(scale, 0, off[0] * width, GemmChecks.EXACT);
        Arrays.fill(scale, off[0] * width, mm * width, s);
        return scale;
    }
}
