package dev.moe4j.kernels.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link GemmTasks}: the plan covers every output element once, balanced, largest tasks first. */
class GemmTasksTest {
    @Test
    void splitIsBalancedToWithinOnePanel() {
        List<int[]> r = GemmTasks.split(512, 2, 12);          // 43 panels: 21 + 22
        assertThat(r).hasSize(2);
        assertThat(r.get(0)[0]).isZero();
        assertThat(r.get(0)[1]).isEqualTo(r.get(1)[0]);
        assertThat(r.get(1)[1]).isEqualTo(512);
        assertThat(Math.abs((r.get(0)[1] - r.get(0)[0]) - (r.get(1)[1] - r.get(1)[0]))).isLessThanOrEqualTo(12);
        assertThat(GemmTasks.split(5, 4, 12)).hasSize(1);      // never more pieces than panels
    }

    @Test
    void planCoversEachOutputOnceLargestFirst() {
        int[] m = {600, 0, 7, 130}, k = {64, 64, 0, 64};
        int n = 50;
        GemmTasks.Plan plan = GemmTasks.plan(4, m, k, n, 2, 2, 12, 32);
        int[][] covered = new int[4][];
        for (int g = 0; g < 4; g++) covered[g] = new int[m[g] * n];
        double last = Double.POSITIVE_INFINITY;
        for (int t = 0; t < plan.size(); t++) {
            int g = plan.problem()[t];
            for (int i = plan.i0()[t]; i < plan.i1()[t]; i++) {
                for (int j = plan.j0()[t]; j < plan.j1()[t]; j++) covered[g][i * n + j]++;
            }
            double cost = (double) (plan.i1()[t] - plan.i0()[t]) * (plan.j1()[t] - plan.j0()[t]) * Math.max(k[g], 1);
            assertThat(cost).isLessThanOrEqualTo(last);
            last = cost;
        }
        for (int g = 0; g < 4; g++) if (m[g] > 0) assertThat(covered[g]).as("problem %d", g).containsOnly(1);
        assertThat(plan.size()).isGreaterThan(3);                // the big problem was cut
    }
}
