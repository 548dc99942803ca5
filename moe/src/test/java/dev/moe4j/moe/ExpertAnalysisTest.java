package dev.moe4j.moe;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.moe.analysis.ExpertAffinity;
import dev.moe4j.moe.analysis.ExpertPlacement;
import dev.moe4j.moe.analysis.ExpertPruning;
import dev.moe4j.moe.analysis.ExpertUsage;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** Expert usage, task-specific pruning, inter-layer affinity and placement. */
class ExpertAnalysisTest {

    @Test
    void usageCountsTheChosenPairs() {
        ExpertUsage usage = new ExpertUsage(4);
        usage.add(MethodChecks.routing(new int[] {0, 2, 2, 3, 2, 0}, 3, 2, 4));
        usage.add(MethodChecks.routing(new int[] {3, 2}, 1, 2, 4));
        assertThat(usage.counts()).containsExactly(2, 0, 4, 2);
        assertThat(usage.tokens()).isEqualTo(4);
        assertThat(usage.weightSums()).containsExactly(1.0, 0.0, 2.0, 1.0);
        assertThat(usage.frequencies()).containsExactly(0.25, 0.0, 0.5, 0.25);
        assertThat(usage.mostUsed(1)).containsExactly(2);
        assertThat(usage.mostUsed(2)).containsExactly(0, 2);   // 0 and 3 tie: the lower id wins
        assertThat(usage.mostUsed(3)).containsExactly(0, 2, 3);
        assertThat(usage.toString()).contains("expert usage over 4 tokens", "50.00%");
        assertThatThrownBy(() -> usage.mostUsed(5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> usage.add(MethodChecks.routing(new int[] {0}, 1, 1, 3))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void pruningKeepsTheOutputOfTokensRoutedOnlyToKeptExperts() {
        MoeLayer layer = new MoeLayer(new MoeOptions().hiddenSize(5).intermediateSize(4).experts(6).topK(2).sharedExpert(3, true)
                .dtype(DType.F64).initStd(0.9, 0.5).seed(4).balancing(Balancing.auxLoss(0.01)));
        Tensor x = TestData.randn(new Generator(5), DType.F64, 1, 40, 5);
        double[] y = layer.forward(x).toDoubleArray();
        Routing full = layer.lastRouting();
        ExpertUsage usage = new ExpertUsage(6).add(full);
        int[] keep = usage.mostUsed(3);
        MoeLayer pruned = ExpertPruning.prune(layer, usage, 3);
        assertThat(pruned.experts().numExperts()).isEqualTo(3);
        assertThat(((SoftmaxTopKRouter) pruned.router()).weight().shape()).containsExactly(3, 5);
        double[] yp = pruned.forward(x).toDoubleArray();
        Routing small = pruned.lastRouting();
        int kept = 0, moved = 0;
        for (int t = 0; t < 40; t++) {
            int a = full.expertIds()[t * 2], b = full.expertIds()[t * 2 + 1];
            int ia = java.util.Arrays.binarySearch(keep, a), ib = java.util.Arrays.binarySearch(keep, b);
            if (ia >= 0 && ib >= 0) {
                kept++;
                assertThat(small.expertIds()[t * 2]).isEqualTo(ia);
                assertThat(small.expertIds()[t * 2 + 1]).isEqualTo(ib);
                for (int c = 0; c < 5; c++) assertThat(yp[t * 5 + c]).isCloseTo(y[t * 5 + c], offset(1e-13));
            } else {
                double diff = 0;
                for (int c = 0; c < 5; c++) diff += Math.abs(yp[t * 5 + c] - y[t * 5 + c]);
                if (diff > 1e-9) moved++;
            }
        }
        assertThat(kept).isPositive();
        assertThat(moved).isPositive();
        assertThat(pruned.parameters()).hasSize(layer.parameters().size());
        // the router and experts are copies: training the pruned layer leaves the original alone
        double before = layer.experts().upProjection().toDoubleArray()[0];
        try (NoGrad scope = NoGrad.enter()) {
            pruned.experts().upProjection().fill(0);
        }
        assertThat(layer.experts().upProjection().toDoubleArray()[0]).isEqualTo(before);
        assertThatThrownBy(() -> ExpertPruning.prune(layer, new int[] {1})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fewer than k = 2");
        assertThatThrownBy(() -> ExpertPruning.prune(layer, new int[] {1, 1, 2})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("twice");
        assertThatThrownBy(() -> ExpertPruning.prune(layer, new int[] {1, 6})).isInstanceOf(IndexOutOfBoundsException.class);
        MoeLayer hash = new MoeLayer(new MoeOptions().router(RouterKind.HASH).topK(1));
        assertThatThrownBy(() -> ExpertPruning.prune(hash, new int[] {0, 1})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("softmax top-k");
    }

    @Test
    void affinityIsTheConditionalTransitionMatrix() {
        // 4 tokens, top-1 in layer l (E = 3), top-2 in layer l+1 (E = 4)
        Routing lower = MethodChecks.routing(new int[] {0, 0, 1, 0}, 4, 1, 3);
        Routing upper = MethodChecks.routing(new int[] {1, 2, 1, 3, 0, 2, 1, 2}, 4, 2, 4);
        ExpertAffinity affinity = new ExpertAffinity(3, 4).add(lower, upper);
        long[][] c = affinity.counts();
        assertThat(c[0]).containsExactly(0, 3, 2, 1);
        assertThat(c[1]).containsExactly(1, 0, 1, 0);
        assertThat(c[2]).containsExactly(0, 0, 0, 0);
        double[][] p = affinity.conditional();
        for (int i = 0; i < 2; i++) assertThat(p[i][0] + p[i][1] + p[i][2] + p[i][3]).isCloseTo(1.0, offset(1e-15));
        assertThat(p[0]).containsExactly(0.0, 0.5, 1.0 / 3, 1.0 / 6);
        assertThat(p[2]).containsOnly(0.0);
        assertThat(affinity.toString()).contains("P(expert j at l+1 | expert i at l)", "0.500");
        assertThatThrownBy(() -> affinity.add(lower, MethodChecks.routing(new int[] {0}, 1, 1, 4))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void placementPutsHighAffinityExpertsTogether() {
        // layer 1 follows layer 0 through a fixed permutation; layer 2 follows layer 1 through another
        int E = 6, T = 60;
        int[] perm1 = {4, 0, 5, 2, 1, 3}, perm2 = {2, 5, 0, 4, 3, 1};
        int[] l0 = new int[T], l1 = new int[T], l2 = new int[T];
        Generator g = new Generator(6);
        for (int t = 0; t < T; t++) {
            l0[t] = g.nextInt(E);
            l1[t] = perm1[l0[t]];
            l2[t] = perm2[l1[t]];
        }
        ExpertAffinity a01 = new ExpertAffinity(E, E).add(MethodChecks.routing(l0, T, 1, E), MethodChecks.routing(l1, T, 1, E));
        ExpertAffinity a12 = new ExpertAffinity(E, E).add(MethodChecks.routing(l1, T, 1, E), MethodChecks.routing(l2, T, 1, E));
        int[][] place = ExpertPlacement.place(List.of(a01, a12), 3);
        assertThat(place[0]).containsExactly(0, 0, 1, 1, 2, 2);
        for (int l = 0; l < 3; l++) {
            int[] perDevice = new int[3];
            for (int dev : place[l]) perDevice[dev]++;
            assertThat(perDevice).containsOnly(2);
        }
        assertThat(ExpertPlacement.colocation(a01, place[0], place[1])).isEqualTo(1.0);
        assertThat(ExpertPlacement.colocation(a12, place[1], place[2])).isEqualTo(1.0);
        int[] naive = {0, 0, 1, 1, 2, 2};
        assertThat(ExpertPlacement.colocation(a01, naive, naive)).isLessThan(0.5);
        assertThatThrownBy(() -> ExpertPlacement.place(List.of(a01, new ExpertAffinity(5, 6)), 3)).isInstanceOf(IllegalArgumentException.class);
    }
}
