package dev.moe4j.kernels.cpu.moe;

import static dev.moe4j.kernels.cpu.moe.MoeTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class RoutingPlanTest {

    /**
     * The naive plan: list the pairs, stable-sort them by expert with a library sort, then let each expert keep
     * its first C (BY_POSITION) or its C best by (weight falling, pair rising) (BY_SCORE), in pair order.
     */
    static RoutingPlan naive(int[] ids, float[] weights, int T, int k, int E, int capacity, DropPolicy policy) {
        int pairs = T * k;
        List<Integer> order = new ArrayList<>();
        for (int p = 0; p < pairs; p++) order.add(p);
        order.sort(Comparator.comparingInt(p -> ids[p]));                      // List.sort is stable
        int[] demand = new int[E];
        for (int p : order) demand[ids[p]]++;
        List<Integer> kept = new ArrayList<>();
        for (int e = 0; e < E; e++) {
            final int expert = e;
            List<Integer> mine = new ArrayList<>(order.stream().filter(p -> ids[p] == expert).toList());
            if (capacity != RoutingPlan.UNLIMITED && mine.size() > capacity) {
                if (policy == DropPolicy.BY_SCORE) {
                    List<Integer> best = new ArrayList<>(mine);
                    best.sort(Comparator.comparingDouble((Integer p) -> -weights[p]).thenComparingInt(p -> p));
                    List<Integer> chosen = best.subList(0, capacity);
                    mine.removeIf(p -> !chosen.contains(p));
                } else {
                    mine = mine.subList(0, capacity);
                }
            }
            kept.addAll(mine);
        }
        int[] counts = new int[E];
        int[] rowToPair = new int[kept.size()];
        int[] pairToRow = new int[pairs];
        java.util.Arrays.fill(pairToRow, -1);
        for (int r = 0; r < kept.size(); r++) {
            rowToPair[r] = kept.get(r);
            pairToRow[kept.get(r)] = r;
            counts[ids[kept.get(r)]]++;
        }
        int[] offsets = new int[E + 1];
        for (int e = 0; e < E; e++) offsets[e + 1] = offsets[e] + counts[e];
        int[] dropped = java.util.stream.IntStream.range(0, pairs).filter(p -> pairToRow[p] < 0).toArray();
        return new RoutingPlan(T, k, E, capacity, demand, counts, offsets, rowToPair, pairToRow, dropped);
    }

    static void assertSamePlan(RoutingPlan want, RoutingPlan got) {
        assertThat(got.numTokens()).isEqualTo(want.numTokens());
        assertThat(got.topK()).isEqualTo(want.topK());
        assertThat(got.numExperts()).isEqualTo(want.numExperts());
        assertThat(got.capacity()).isEqualTo(want.capacity());
        assertThat(got.demand()).as("demand").containsExactly(want.demand());
        assertThat(got.counts()).as("counts").containsExactly(want.counts());
        assertThat(got.offsets()).as("offsets").containsExactly(want.offsets());
        assertThat(got.rowToPair()).as("rowToPair").containsExactly(want.rowToPair());
        assertThat(got.pairToRow()).as("pairToRow").containsExactly(want.pairToRow());
        assertThat(got.dropped()).as("dropped").containsExactly(want.dropped());
    }

    static Stream<Arguments> cases() {
        int[][] shapes = {{0, 2, 8}, {1, 1, 1}, {1, 2, 8}, {2, 1, 3}, {17, 2, 8}, {300, 4, 16}, {129, 8, 64}, {1000, 1, 8}, {64, 3, 3}};
        List<Arguments> list = new ArrayList<>();
        for (int[] s : shapes) {
            for (Skew skew : Skew.values()) {
                int fair = Math.max(1, s[0] * s[1] / s[2]);
                for (int capacity : new int[] {RoutingPlan.UNLIMITED, 0, 1, fair, 2 * fair, s[0] * s[1]}) {
                    for (DropPolicy policy : DropPolicy.values()) {
                        if (capacity == RoutingPlan.UNLIMITED && policy == DropPolicy.BY_SCORE) continue;
                        list.add(Arguments.of(s[0], s[1], s[2], skew, capacity, policy));
                    }
                }
            }
        }
        return list.stream();
    }

    @ParameterizedTest(name = "T={0} k={1} E={2} {3} capacity={4} {5}")
    @MethodSource("cases")
    void histogramScanScatterMatchesNaiveStableSort(int T, int k, int E, Skew skew, int capacity, DropPolicy policy) {
        Random rnd = new Random(T * 1_000_003L + k * 101L + E + capacity + skew.ordinal() * 7L);
        int[] ids = expertIds(rnd, T, k, E, skew);
        float[] weights = new float[T * k];
        for (int i = 0; i < weights.length; i++) weights[i] = rnd.nextInt(5) * 0.25f;   // many equal weights
        RoutingPlan got = RoutingPlan.build(ids, weights, T, k, E, capacity, policy);
        assertSamePlan(naive(ids, weights, T, k, E, capacity, policy), got);

        // invariants the consumers rely on
        int rows = got.numRows();
        assertThat(got.offsets()[0]).isZero();
        assertThat(got.offsets()[E]).isEqualTo(rows);
        assertThat(rows + got.dropped().length).isEqualTo(T * k);
        for (int r = 0; r < rows; r++) {
            int p = got.rowToPair()[r];
            assertThat(got.pairToRow()[p]).isEqualTo(r);
            assertThat(ids[p]).isEqualTo(got.expertOfRow(r));
            assertThat(got.token(r) * k + got.slot(r)).isEqualTo(p);
            assertThat(got.rowOf(got.token(r), got.slot(r))).isEqualTo(r);
        }
        for (int e = 0; e < E; e++) {
            assertThat(got.counts()[e]).isLessThanOrEqualTo(capacity == RoutingPlan.UNLIMITED ? Integer.MAX_VALUE : capacity);
            for (int r = got.offsets()[e] + 1; r < got.offsets()[e + 1]; r++) {
                assertThat(got.rowToPair()[r]).as("pair order inside expert %d", e).isGreaterThan(got.rowToPair()[r - 1]);
            }
        }
        if (capacity == RoutingPlan.UNLIMITED) {
            assertSamePlan(got, RoutingPlan.build(ids, T, k, E));
            assertThat(got.counts()).containsExactly(got.demand());
        }
    }

    /** Switch Transformers' rule on a hand-sized case, and the by-score alternative. */
    @Test
    void capacityDropsByPositionOrByScore() {
        int[] ids = {0, 0, 1, 0, 0};                                            // T = 5, k = 1, E = 2
        float[] w = {0.1f, 0.9f, 0.5f, 0.9f, 0.3f};
        RoutingPlan byPosition = RoutingPlan.build(ids, w, 5, 1, 2, 2, DropPolicy.BY_POSITION);
        assertThat(byPosition.rowToPair()).containsExactly(0, 1, 2);           // tokens 0, 1 keep expert 0
        assertThat(byPosition.dropped()).containsExactly(3, 4);
        assertThat(byPosition.counts()).containsExactly(2, 1);
        assertThat(byPosition.demand()).containsExactly(4, 1);
        RoutingPlan byScore = RoutingPlan.build(ids, w, 5, 1, 2, 2, DropPolicy.BY_SCORE);
        assertThat(byScore.rowToPair()).containsExactly(1, 3, 2);              // the two 0.9s, in token order
        assertThat(byScore.dropped()).containsExactly(0, 4);
        assertThat(byScore.pairToRow()).containsExactly(-1, 0, 2, 1, -1);
        String table = byScore.toString();
        assertThat(table).contains("capacity=2").contains("dropped: 0.0 4.0").contains("rows (token.slot)");
    }

    @Test
    void zeroTokenExpertsHaveEmptyRanges() {
        int[] ids = {3, 3, 3};
        RoutingPlan plan = RoutingPlan.build(ids, 3, 1, 6);
        assertThat(plan.counts()).containsExactly(0, 0, 0, 3, 0, 0);
        assertThat(plan.offsets()).containsExactly(0, 0, 0, 0, 3, 3, 3);
        assertThat(plan.expertOfRow(0)).isEqualTo(3);
        assertThat(plan.expertOfRow(2)).isEqualTo(3);
        RoutingPlan empty = RoutingPlan.build(new int[0], 0, 2, 4);
        assertThat(empty.numRows()).isZero();
        assertThat(empty.offsets()).containsExactly(0, 0, 0, 0, 0);
        assertThat(empty.toString()).contains("rows=0");
    }

    @Test
    void badInputsAreRejected() {
        assertThatThrownBy(() -> RoutingPlan.build(new int[] {0, 5, 1, 2}, 2, 2, 4))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("expert id 5 at token 0, slot 1");
        assertThatThrownBy(() -> RoutingPlan.build(new int[] {0, -1}, 2, 1, 4))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("token 1, slot 0");
        assertThatThrownBy(() -> RoutingPlan.build(new int[3], 2, 2, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[T, k] = [2, 2]");
        assertThatThrownBy(() -> RoutingPlan.build(new int[4], null, 2, 2, 4, -2, DropPolicy.BY_POSITION))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("capacity");
        assertThatThrownBy(() -> RoutingPlan.build(new int[4], null, 2, 2, 4, 1, DropPolicy.BY_SCORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BY_SCORE");
        assertThatThrownBy(() -> RoutingPlan.build(new int[4], new float[] {0, 0, Float.NaN, 0}, 2, 2, 4, 1, DropPolicy.BY_SCORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token 1, slot 0");
        assertThatThrownBy(() -> RoutingPlan.build(new int[4], 2, 2, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E = 0");
        RoutingPlan plan = RoutingPlan.build(new int[] {1, 0}, 1, 2, 2);
        assertThatThrownBy(() -> plan.expertOfRow(2)).isInstanceOf(IndexOutOfBoundsException.class);
    }
}
