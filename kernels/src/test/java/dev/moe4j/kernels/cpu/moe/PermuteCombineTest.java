package dev.moe4j.kernels.cpu.moe;

import static dev.moe4j.kernels.cpu.moe.MoeTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PermuteCombineTest {

    /** A plan with a name for the test report. */
    record Case(String name, RoutingPlan plan, int d) {
        @Override
        public String toString() {
            return name + " d=" + d;
        }
    }

    static Stream<Case> cases() {
        // (T, k, E, d, skew, capacity, policy); the last ones are large enough to run in parallel
        Object[][] specs = {
                {0, 2, 8, 16, Skew.UNIFORM, RoutingPlan.UNLIMITED, DropPolicy.BY_POSITION},
                {1, 1, 1, 1, Skew.UNIFORM, RoutingPlan.UNLIMITED, DropPolicy.BY_POSITION},
                {1, 2, 8, 7, Skew.UNIFORM, RoutingPlan.UNLIMITED, DropPolicy.BY_POSITION},
                {5, 2, 4, 0, Skew.UNIFORM, RoutingPlan.UNLIMITED, DropPolicy.BY_POSITION},
                {37, 2, 8, 33, Skew.UNIFORM, RoutingPlan.UNLIMITED, DropPolicy.BY_POSITION},
                {37, 2, 8, 33, Skew.SKEWED, RoutingPlan.UNLIMITED, DropPolicy.BY_POSITION},
                {64, 4, 16, 17, Skew.SKEWED, 8, DropPolicy.BY_POSITION},
                {64, 4, 16, 17, Skew.SKEWED, 8, DropPolicy.BY_SCORE},
                {50, 3, 6, 9, Skew.ONE_EXPERT, 5, DropPolicy.BY_SCORE},
                {20, 2, 4, 5, Skew.UNIFORM, 0, DropPolicy.BY_POSITION},
                {129, 8, 64, 129, Skew.UNIFORM, RoutingPlan.UNLIMITED, DropPolicy.BY_POSITION},
                {1500, 4, 16, 67, Skew.SKEWED, RoutingPlan.UNLIMITED, DropPolicy.BY_POSITION},
                {1500, 2, 8, 131, Skew.UNIFORM, 300, DropPolicy.BY_SCORE}};
        List<Case> list = new ArrayList<>();
        for (Object[] s : specs) {
            int T = (int) s[0], k = (int) s[1], E = (int) s[2], d = (int) s[3], capacity = (int) s[5];
            Skew skew = (Skew) s[4];
            DropPolicy policy = (DropPolicy) s[6];
            Random rnd = new Random(T * 31L + k * 7L + E + d);
            int[] ids = expertIds(rnd, T, k, E, skew);
            float[] w = gaussian(rnd, T * k, 1.0);
            RoutingPlan plan = RoutingPlan.build(ids, w, T, k, E, capacity, policy);
            String name = "T=" + T + " k=" + k + " E=" + E + " " + skew + " C=" + capacity + " " + policy;
            list.add(new Case(name, plan, d));
        }
        return list.stream();
    }

    private static int tokens(Case c) {
        return c.plan().numTokens() * c.d();
    }

    private static int rows(Case c) {
        return c.plan().numRows() * c.d();
    }

    private static float[] garbage(int n) {
        float[] a = new float[n];
        Arrays.fill(a, Float.NaN);                                              // every element must be written
        return a;
    }

    // ---------------------------------------------------------------------------------------------
    // fast == reference
    // ---------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void permuteAndItsBackwardMatchTheReference(Case c) {
        Random rnd = new Random(c.name().hashCode());
        float[] x = gaussian(rnd, tokens(c), 1.0);
        float[] want = garbage(rows(c)), got = garbage(rows(c));
        Permute.permuteReference(c.plan(), x, c.d(), want);
        Permute.permute(c.plan(), x, c.d(), got);
        assertSameFloats("xPerm", want, got, rows(c));

        float[] dxPerm = gaussian(rnd, rows(c), 1.0);
        float[] wantDx = garbage(tokens(c)), gotDx = garbage(tokens(c));
        Permute.permuteBackwardReference(c.plan(), dxPerm, c.d(), wantDx);
        Permute.permuteBackward(c.plan(), dxPerm, c.d(), gotDx);
        assertSameFloats("dx", wantDx, gotDx, tokens(c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void doublePermuteMatchesTheFloatReference(Case c) {
        Random rnd = new Random(c.name().hashCode() + 2);
        float[] x = gaussian(rnd, tokens(c), 1.0), dxPerm = gaussian(rnd, rows(c), 1.0);
        double[] xd = new double[x.length], dxPermD = new double[dxPerm.length];
        for (int i = 0; i < x.length; i++) xd[i] = x[i];
        for (int i = 0; i < dxPerm.length; i++) dxPermD[i] = dxPerm[i];
        float[] want = garbage(rows(c)), wantDx = garbage(tokens(c));
        double[] got = new double[rows(c)], gotDx = new double[tokens(c)];
        Arrays.fill(got, Double.NaN);
        Arrays.fill(gotDx, Double.NaN);
        Permute.permuteReference(c.plan(), x, c.d(), want);
        Permute.permuteReference(c.plan(), xd, c.d(), got);
        for (int i = 0; i < want.length; i++) assertThat(got[i]).isEqualTo((double) want[i]);
        Permute.permuteBackwardReference(c.plan(), dxPerm, c.d(), wantDx);
        Permute.permuteBackwardReference(c.plan(), dxPermD, c.d(), gotDx);
        for (int i = 0; i < wantDx.length; i++) assertThat(gotDx[i]).isCloseTo(wantDx[i], org.assertj.core.data.Offset.offset(1e-5 * (1 + Math.abs(gotDx[i]))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void combineAndItsBackwardMatchTheReference(Case c) {
        Random rnd = new Random(c.name().hashCode() + 1);
        int pairs = c.plan().numPairs();
        float[] w = gaussian(rnd, pairs, 1.0);
        float[] yPerm = gaussian(rnd, rows(c), 1.0);
        float[] want = garbage(tokens(c)), got = garbage(tokens(c));
        Combine.combineReference(c.plan(), w, yPerm, c.d(), want);
        Combine.combine(c.plan(), w, yPerm, c.d(), got);
        assertSameFloats("y", want, got, tokens(c));

        float[] dy = gaussian(rnd, tokens(c), 1.0);
        float[] wantDyPerm = garbage(rows(c)), gotDyPerm = garbage(rows(c));
        float[] wantDw = garbage(pairs), gotDw = garbage(pairs);
        Combine.combineBackwardReference(c.plan(), w, yPerm, dy, c.d(), wantDyPerm, wantDw);
        Combine.combineBackward(c.plan(), w, yPerm, dy, c.d(), gotDyPerm, gotDw);
        assertSameFloats("dyPerm", wantDyPerm, gotDyPerm, rows(c));
        int k = c.plan().topK();
        for (int p = 0; p < pairs; p++) {
            int r = c.plan().pairToRow()[p];
            if (r < 0) {
                assertThat(gotDw[p]).as("dWeights of dropped pair %d", p).isZero();
                continue;
            }
            double scale = 0;
            for (int i = 0; i < c.d(); i++) scale += Math.abs((double) dy[p / k * c.d() + i] * yPerm[r * c.d() + i]);
            assertThat(Math.abs((double) gotDw[p] - wantDw[p])).as("dWeights %d", p).isLessThanOrEqualTo(DOT_TOL * scale + 1e-30);
        }
        // outputs are optional
        float[] onlyDw = garbage(pairs), onlyDyPerm = garbage(rows(c));
        Combine.combineBackward(c.plan(), w, yPerm, dy, c.d(), null, onlyDw);
        Combine.combineBackward(c.plan(), w, yPerm, dy, c.d(), onlyDyPerm, null);
        assertSameFloats("dWeights alone", gotDw, onlyDw, pairs);
        assertSameFloats("dyPerm alone", gotDyPerm, onlyDyPerm, rows(c));
    }

    // ---------------------------------------------------------------------------------------------
    // adjoint pairs and gradients
    // ---------------------------------------------------------------------------------------------

    private static double dot(float[] a, float[] b, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += (double) a[i] * b[i];
        return s;
    }

    private static double absDot(float[] a, float[] b, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.abs((double) a[i] * b[i]);
        return s;
    }

    /** <permute(x), y> = <x, permuteBackward(y)>, and for combine in both of its arguments. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void forwardAndBackwardAreAdjoint(Case c) {
        Random rnd = new Random(c.name().hashCode() + 2);
        float[] x = gaussian(rnd, tokens(c), 1.0);
        float[] y = gaussian(rnd, rows(c), 1.0);
        float[] px = new float[rows(c)], pty = new float[tokens(c)];
        Permute.permute(c.plan(), x, c.d(), px);
        Permute.permuteBackward(c.plan(), y, c.d(), pty);
        assertThat(Math.abs(dot(px, y, rows(c)) - dot(x, pty, tokens(c))))
                .isLessThanOrEqualTo(ADJOINT_TOL * (absDot(px, y, rows(c)) + 1e-30));

        // combine is linear in yPerm (adjoint: dyPerm) and in w (adjoint: dWeights)
        int pairs = c.plan().numPairs();
        float[] w = gaussian(rnd, pairs, 1.0);
        float[] dy = gaussian(rnd, tokens(c), 1.0);
        float[] out = new float[tokens(c)], dyPerm = new float[rows(c)], dw = new float[pairs];
        Combine.combine(c.plan(), w, y, c.d(), out);
        Combine.combineBackward(c.plan(), w, y, dy, c.d(), dyPerm, dw);
        double lhs = dot(out, dy, tokens(c));
        double bound = 0;
        for (int t = 0; t < c.plan().numTokens(); t++) {
            for (int j = 0; j < c.plan().topK(); j++) {
                int r = c.plan().rowOf(t, j);
                if (r < 0) continue;
                for (int i = 0; i < c.d(); i++) bound += Math.abs((double) w[t * c.plan().topK() + j] * y[r * c.d() + i] * dy[t * c.d() + i]);
            }
        }
        assertThat(Math.abs(lhs - dot(y, dyPerm, rows(c)))).isLessThanOrEqualTo(ADJOINT_TOL * bound + 1e-30);
        assertThat(Math.abs(lhs - dot(w, dw, pairs))).isLessThanOrEqualTo(ADJOINT_TOL * bound + 1e-30);
    }

    /** The double reference backward of combine against central differences of the double forward. */
    @Test
    void combineBackwardMatchesCentralDifferencesInDouble() {
        int T = 6, k = 3, E = 4, d = 5;
        Random rnd = new Random(77);
        int[] ids = expertIds(rnd, T, k, E, Skew.UNIFORM);
        double[] w = widen(gaussian(rnd, T * k, 1.0));
        RoutingPlan plan = RoutingPlan.build(ids, null, T, k, E, 3, DropPolicy.BY_POSITION);  // some pairs dropped
        assertThat(plan.dropped()).isNotEmpty();
        int R = plan.numRows();
        double[] yPerm = widen(gaussian(rnd, R * d, 1.0));
        double[] g = widen(gaussian(rnd, T * d, 1.0));
        double[] dyPerm = new double[R * d], dw = new double[T * k];
        Combine.combineBackwardReference(plan, w, yPerm, g, d, dyPerm, dw);

        double h = FD_DOUBLE_STEP;
        for (int i = 0; i < T * k; i++) {
            double keep = w[i];
            w[i] = keep + h;
            double up = combineLoss(plan, w, yPerm, d, g);
            w[i] = keep - h;
            double down = combineLoss(plan, w, yPerm, d, g);
            w[i] = keep;
            double fd = (up - down) / (2 * h);
            assertThat(Math.abs(fd - dw[i])).as("dWeights %d", i).isLessThanOrEqualTo(FD_DOUBLE_TOL * (1 + Math.abs(fd)));
        }
        for (int i = 0; i < R * d; i++) {
            double keep = yPerm[i];
            yPerm[i] = keep + h;
            double up = combineLoss(plan, w, yPerm, d, g);
            yPerm[i] = keep - h;
            double down = combineLoss(plan, w, yPerm, d, g);
            yPerm[i] = keep;
            double fd = (up - down) / (2 * h);
            assertThat(Math.abs(fd - dyPerm[i])).as("dyPerm %d", i).isLessThanOrEqualTo(FD_DOUBLE_TOL * (1 + Math.abs(fd)));
        }
        // and the float reference agrees with the double one
        float[] fdw = new float[T * k];
        Combine.combineBackwardReference(plan, toFloat(w), toFloat(yPerm), toFloat(g), d, new float[R * d], fdw);
        assertClose("float dWeights", dw, fdw, T * k, 1e-5);
    }

    private static double combineLoss(RoutingPlan plan, double[] w, double[] yPerm, int d, double[] g) {
        double[] y = new double[plan.numTokens() * d];
        Combine.combineReference(plan, w, yPerm, d, y);
        double l = 0;
        for (int i = 0; i < y.length; i++) l += g[i] * y[i];
        return l;
    }

    private static float[] toFloat(double[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) r[i] = (float) a[i];
        return r;
    }

    // ---------------------------------------------------------------------------------------------
    // semantics and errors
    // ---------------------------------------------------------------------------------------------

    @Test
    void droppedSlotsContributeNothingAndFullyDroppedTokensGetZeros() {
        int T = 4, k = 2, E = 2, d = 3;
        int[] ids = {0, 1, 0, 1, 0, 1, 0, 1};
        RoutingPlan plan = RoutingPlan.build(ids, null, T, k, E, 1, DropPolicy.BY_POSITION);   // only token 0 is kept
        float[] w = {0.5f, 2f, 1f, 1f, 1f, 1f, 1f, 1f};
        float[] yPerm = {1, 2, 3, 10, 20, 30};                                  // row 0: expert 0, row 1: expert 1
        float[] y = garbage(T * d);
        Combine.combine(plan, w, yPerm, d, y);
        assertThat(y).containsExactly(20.5f, 41f, 61.5f, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        float[] dx = garbage(T * d);
        Permute.permuteBackward(plan, yPerm, d, dx);
        assertThat(dx).containsExactly(11, 22, 33, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    @Test
    void badArraysAreRejected() {
        RoutingPlan plan = RoutingPlan.build(new int[] {0, 1, 1, 0}, 2, 2, 2);  // T = 2, k = 2, R = 4
        assertThatThrownBy(() -> Permute.permute(plan, new float[5], 3, new float[12]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x").hasMessageContaining("[T, d] = [2, 3]");
        assertThatThrownBy(() -> Permute.permute(plan, new float[6], 3, new float[11]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("xPerm").hasMessageContaining("[R, d] = [4, 3]");
        assertThatThrownBy(() -> Permute.permuteBackward(plan, new float[12], -1, new float[6]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("d must be >= 0");
        assertThatThrownBy(() -> Combine.combine(plan, new float[3], new float[12], 3, new float[6]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weights").hasMessageContaining("[T, k] = [2, 2]");
        assertThatThrownBy(() -> Combine.combineBackward(plan, new float[4], new float[12], new float[6], 3, new float[12], new float[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dWeights");
        assertThatThrownBy(() -> Combine.combineReference(plan, new float[4], new float[12], 3, new float[5]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("y ");
        assertThatThrownBy(() -> Combine.combine(null, new float[4], new float[12], 3, new float[6]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("plan");
    }
}
