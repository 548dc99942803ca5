package dev.moe4j.bench.insight;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.Routing;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The stage views on hand-made routings, without a layer. */
class ViewsTest {
    // 5 tokens, k = 2, E = 3; capacity 3 by position: expert 0 gets pairs 0.0, 1.1, 2.0, 4.0 -> 4.0 dropped
    static final int[] IDS = {0, 1, 2, 0, 0, 2, 1, 2, 0, 1};
    static final float[] W = {0.7f, 0.3f, 0.6f, 0.4f, 0.9f, 0.1f, 0.5f, 0.5f, 0.8f, 0.2f};

    static Routing routing() {
        RoutingPlan plan = RoutingPlan.build(IDS, W, 5, 2, 3, 3, DropPolicy.BY_POSITION);
        float[] logits = new float[15], scores = new float[15];
        for (int i = 0; i < 15; i++) {
            logits[i] = i * 0.1f - 0.5f;
            scores[i] = 1f / 3;
        }
        return new Routing("test router", plan, IDS, null, Tensor.of(W, 5, 2), Tensor.of(logits, 5, 3), Tensor.of(scores, 5, 3), null, 0);
    }

    @Test
    void planViewShowsHistogramOffsetsPermutationAndDrops() {
        PlanView v = new PlanView(routing(), 100);
        TextTable h = v.histogram();
        assertThat(h.size()).isEqualTo(3);
        // expert, demand, kept, offset
        assertThat(new String[] {h.cell(0, 1), h.cell(0, 2), h.cell(0, 3)}).containsExactly("4", "3", "0");
        assertThat(new String[] {h.cell(1, 1), h.cell(1, 2), h.cell(1, 3)}).containsExactly("3", "3", "3");
        assertThat(new String[] {h.cell(2, 1), h.cell(2, 2), h.cell(2, 3)}).containsExactly("3", "3", "6");
        TextTable p = v.permutation();
        assertThat(p.size()).isEqualTo(9);
        RoutingPlan plan = routing().plan();
        for (int r = 0; r < 9; r++) {
            assertThat(p.cell(r, 1)).isEqualTo(String.valueOf(plan.expertOfRow(r)));
            assertThat(p.cell(r, 2)).isEqualTo(String.valueOf(plan.token(r)));
            assertThat(p.cell(r, 3)).isEqualTo(String.valueOf(plan.slot(r)));
        }
        TextTable d = v.dropped();
        assertThat(d.size()).isEqualTo(1);
        assertThat(d.cell(0, 0)).isEqualTo("4");
        assertThat(d.cell(0, 4)).contains("over capacity 3");
        assertThat(v.toString()).contains("offsets [0, 3, 6, 9]");
    }

    @Test
    void permutationTableIsCutAfterMaxRows() {
        String s = new PlanView(routing(), 4).permutation().toString();
        assertThat(s).contains("... 5 more rows");
    }

    @Test
    void routerViewMarksDroppedSlots() {
        RouterView v = new RouterView(routing(), 10);
        assertThat(v.choices(4)).isEqualTo("~e0:0.800 e1:0.200");
        assertThat(v.choices(0)).isEqualTo("e0:0.700 e1:0.300");
        assertThat(v.logits(1)).containsExactly(new double[] {-0.2, -0.1, 0.0}, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(v.toString()).contains("logits [5, 3]").contains("~ marks");
        assertThatThrownBy(() -> v.scores(5)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void gemmProblemsCountTwoMnkPerProjection() {
        GemmProblems g = new GemmProblems(new int[] {3, 0, 5}, 8, 6, true);
        assertThat(g.upWidth()).isEqualTo(12);
        assertThat(g.problems().get(0).upFlops()).isEqualTo(2L * 3 * 8 * 12);
        assertThat(g.problems().get(0).downFlops()).isEqualTo(2L * 3 * 6 * 8);
        assertThat(g.problems().get(1).flops()).isZero();
        assertThat(g.forwardFlops()).isEqualTo(2L * 8 * (8 * 12 + 6 * 8));
        assertThat(g.backwardFlops()).isEqualTo(2 * g.forwardFlops());
        assertThat(g.toString()).contains("(empty)").contains("[5, 8]x[8, 12]");
        assertThat(new GemmProblems(new int[] {2}, 4, 3, false).upWidth()).isEqualTo(3);
    }

    @Test
    void combineViewListsTheWeightedRows() {
        Routing r = routing();
        RoutingPlan plan = r.plan();
        int d = 2, R = plan.numRows();
        double[] yPerm = new double[R * d];
        for (int i = 0; i < yPerm.length; i++) yPerm[i] = i;
        double[] w = new double[10];
        for (int i = 0; i < 10; i++) w[i] = W[i];
        double[] y = new double[10];
        CombineView v = new CombineView(plan, w, yPerm, y, d, 10);
        assertThat(v.terms(4)).startsWith("0.200 * yPerm[" + plan.rowOf(4, 1) + "] (e1");
        assertThat(v.terms(4)).doesNotContain(" + ");
        assertThat(v.terms(0)).contains(" + ");
        assertThatThrownBy(() -> new CombineView(plan, w, new double[3], y, d, 10)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void balanceViewStepsTheBiasTowardsTheMeanLoad() {
        BalanceView v = new BalanceView(Map.of("switch_aux", 1.5), Map.of("switch_aux", 0.01), 0.015, new int[] {6, 2, 4}, new double[] {0, 0, 0},
                0.1, 0.5);
        assertThat(v.biasStep()).containsExactly(-0.1, 0.1, 0.0);
        assertThat(v.toString()).contains("switch_aux", "next step", "load max/mean 1.500");
        assertThat(new BalanceView(Map.of(), Map.of(), 0, new int[] {1, 1}, null, 0, Double.NaN).biasStep()).containsExactly(0.0, 0.0);
    }

    @Test
    void routingStats() {
        assertThat(RoutingStats.imbalance(new int[] {2, 2, 2, 2})).isEqualTo(1.0);
        assertThat(RoutingStats.imbalance(new int[] {8, 0, 0, 0})).isEqualTo(4.0);
        assertThat(RoutingStats.imbalance(new int[] {0, 0})).isZero();
        assertThat(RoutingStats.loadEntropy(new int[] {5, 5, 5, 5})).isCloseTo(Math.log(4), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(RoutingStats.loadEntropy(new int[] {9, 0, 0})).isZero();
        assertThat(RoutingStats.meanTokenEntropy(new double[] {0.5, 0.5, 1, 0}, 2)).isCloseTo(Math.log(2) / 2, org.assertj.core.data.Offset.offset(1e-12));
        assertThatThrownBy(() -> RoutingStats.meanTokenEntropy(new double[5], 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void stageTimesSumPassesStageByStage() {
        StageTimes a = new StageTimes().record("permute", "Permute.permute", false, 2_000_000).record("permute", "Permute.permuteBackward", true, 4_000_000);
        StageTimes b = new StageTimes().record("permute", "Permute.permute", false, 4_000_000).record("combine", "Combine.combine", false, 1_000_000);
        a.add(b);
        assertThat(a.passes()).isEqualTo(2);
        assertThat(a.stages()).extracting(StageTimes.StageTime::stage).containsExactly("permute", "combine", "permute");
        assertThat(a.meanMillis(a.stages().get(0))).isEqualTo(3.0);
        assertThat(a.total(true)).isEqualTo(4_000_000);
        assertThat(a.toString()).contains("mean of 2 passes");
    }

    @Test
    void textTableAlignsAndChecksRowWidth() {
        TextTable t = new TextTable("name", "value").title("t").row("a", 1.5).row("bbb", -12.25).note("end");
        assertThat(t.toString()).isEqualTo("t\nname     value\n----  --------\na       1.5000\nbbb   -12.2500\nend\n");
        assertThatThrownBy(() -> t.row("x")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 columns");
    }

    @Test
    void formatting() {
        assertThat(Fmt.num(0)).isEqualTo("0");
        assertThat(Fmt.num(1e-5)).isEqualTo("1.000e-05");
        assertThat(Fmt.num(Double.NaN)).isEqualTo("NaN");
        assertThat(Fmt.flops(12_345)).isEqualTo("12.3 kFLOP");
        assertThat(Fmt.vector(new double[] {1, 2, 3, 4, 5}, 4)).isEqualTo("[1.0000, 2.0000, ... (1 more), 4.0000, 5.0000]");
        assertThat(Fmt.bar(5, 10, 10)).isEqualTo("#####");
    }
}
