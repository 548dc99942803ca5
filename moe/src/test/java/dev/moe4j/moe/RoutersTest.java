package dev.moe4j.moe;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.DeepSeekV3Router;
import dev.moe4j.moe.routing.ExpertChoiceRouter;
import dev.moe4j.moe.routing.HashRouter;
import dev.moe4j.moe.routing.NoisyTopKRouter;
import dev.moe4j.moe.routing.NullExpertRouter;
import dev.moe4j.moe.routing.Plans;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.moe.routing.SwitchRouter;
import dev.moe4j.moe.routing.TopPRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** The routers: each decision checked against its definition, recomputed from the router's own scores. */
class RoutersTest {
    private final Generator g = new Generator(3);
    private final int d = 6, T = 20;
    private final Tensor x = TestData.randn(new Generator(4), DType.F32, 1, T, d);

    /** The experts of token t sorted by falling score, ties to the lower id. */
    private static Integer[] ranking(double[] s, int t, int E) {
        Integer[] order = new Integer[E];
        for (int e = 0; e < E; e++) order[e] = e;
        Arrays.sort(order, (a, b) -> s[t * E + a] != s[t * E + b] ? Double.compare(s[t * E + b], s[t * E + a]) : Integer.compare(a, b));
        return order;
    }

    @Test
    void softmaxTopKRenormalisedAndPlain() {
        for (boolean renorm : new boolean[] {true, false}) {
            SoftmaxTopKRouter r = new SoftmaxTopKRouter(d, 5, 2, renorm, Capacity.unlimited(), false, DType.F32, g, 0.5);
            Routing routing = r.route(x);
            double[] s = routing.scores().toDoubleArray(), w = routing.weights().toDoubleArray();
            for (int t = 0; t < T; t++) {
                Integer[] best = ranking(s, t, 5);
                assertThat(routing.expertIds()[t * 2]).isEqualTo(best[0]);
                assertThat(routing.expertIds()[t * 2 + 1]).isEqualTo(best[1]);
                double p0 = s[t * 5 + best[0]], p1 = s[t * 5 + best[1]];
                assertThat(w[t * 2]).isCloseTo(renorm ? p0 / (p0 + p1) : p0, offset(1e-6));
            }
            assertThat(routing.plan().numRows()).isEqualTo(2 * T);
            assertThat(routing.droppedPairs()).isZero();
        }
    }

    @Test
    void capacityDropsByPositionAndByScore() {
        SoftmaxTopKRouter byPos = new SoftmaxTopKRouter(d, 4, 2, true, Capacity.ofFactor(0.5), false, DType.F32, new Generator(9), 1);
        Routing r = byPos.route(x);
        int c = (int) Math.ceil(0.5 * T * 2 / 4);
        for (int e = 0; e < 4; e++) {
            assertThat(r.load()[e]).isEqualTo(Math.min(c, r.demand()[e]));
            // the kept pairs are the first c of the expert in token order
            int seen = 0;
            for (int p = 0; p < T * 2; p++) {
                if (r.expertIds()[p] != e) continue;
                assertThat(r.plan().pairToRow()[p] >= 0).isEqualTo(seen++ < c);
            }
        }
        assertThat(r.droppedPairs()).isEqualTo(Arrays.stream(r.demand()).map(n -> Math.max(0, n - c)).sum());

        SoftmaxTopKRouter byScore = new SoftmaxTopKRouter(d, 4, 2, true, Capacity.ofFactor(0.5).withPolicy(DropPolicy.BY_SCORE), false,
                DType.F32, new Generator(9), 1);
        Routing rs = byScore.route(x);
        double[] w = rs.weights().toDoubleArray();
        for (int p = 0; p < T * 2; p++) {
            if (rs.plan().pairToRow()[p] >= 0) continue;
            // a dropped pair's weight is no larger than any kept pair's of the same expert
            for (int q = 0; q < T * 2; q++) {
                if (rs.expertIds()[q] == rs.expertIds()[p] && rs.plan().pairToRow()[q] >= 0) assertThat(w[q]).isGreaterThanOrEqualTo(w[p]);
            }
        }
    }

    @Test
    void switchCapacityPerGroupOfTokens() {
        SwitchRouter r = new SwitchRouter(d, 3, Capacity.fixed(2, DropPolicy.BY_POSITION, 5), false, 0, DType.F32, g);
        Routing routing = r.route(x);
        double[] s = routing.scores().toDoubleArray(), w = routing.weights().toDoubleArray();
        for (int group = 0; group < T / 5; group++) {
            int[] seen = new int[3];
            for (int t = group * 5; t < group * 5 + 5; t++) {
                int e = routing.expertIds()[t];
                assertThat(e).isEqualTo(ranking(s, t, 3)[0]);
                assertThat(w[t]).isCloseTo(s[t * 3 + e], offset(1e-7));
                assertThat(routing.plan().pairToRow()[t] >= 0).isEqualTo(seen[e]++ < 2);
            }
        }
    }

    @Test
    void switchJitterOnlyInTraining() {
        SwitchRouter r = new SwitchRouter(d, 4, Capacity.unlimited(), true, 0.3, DType.F32, g);
        r.eval();
        double[] a = r.route(x).logits().toDoubleArray(), b = r.route(x).logits().toDoubleArray();
        assertThat(a).containsExactly(b);
        r.train();
        assertThat(r.route(x).logits().toDoubleArray()).isNotEqualTo(a);
    }

    @Test
    void noisyTopKNoiseInTrainingOnly() {
        NoisyTopKRouter r = new NoisyTopKRouter(d, 6, 2, Capacity.unlimited(), DType.F32, g, 0.3);
        r.eval();
        Routing e1 = r.route(x), e2 = r.route(x);
        assertThat(e1.expertIds()).containsExactly(e2.expertIds());
        double[] clean = e1.logits().toDoubleArray();
        r.train();
        Routing t1 = r.route(x);
        assertThat(t1.logits().toDoubleArray()).isNotEqualTo(clean);
        // weights: softmax over the k kept noisy logits
        double[] h = t1.logits().toDoubleArray(), w = t1.weights().toDoubleArray();
        for (int t = 0; t < T; t++) {
            int a = t1.expertIds()[2 * t], b = t1.expertIds()[2 * t + 1];
            assertThat(w[2 * t]).isCloseTo(1 / (1 + Math.exp(h[t * 6 + b] - h[t * 6 + a])), offset(1e-5));
        }
        assertThat(r.noiseWeight().requiresGrad()).isTrue();
    }

    @Test
    void expertChoiceEachExpertTakesItsTopTokens() {
        ExpertChoiceRouter r = new ExpertChoiceRouter(d, 4, 1.0, DType.F32, g, 0.5);
        Routing routing = r.route(x);
        int c = r.tokensPerExpert(T);
        assertThat(c).isEqualTo(5);
        double[] p = routing.scores().toDoubleArray();
        for (int e = 0; e < 4; e++) {
            assertThat(routing.load()[e]).isEqualTo(c);
            double lowestKept = Double.MAX_VALUE, highestDropped = -1;
            for (int t = 0; t < T; t++) {
                boolean kept = routing.plan().pairToRow()[t * 4 + e] >= 0;
                if (kept) lowestKept = Math.min(lowestKept, p[t * 4 + e]);
                else highestDropped = Math.max(highestDropped, p[t * 4 + e]);
            }
            assertThat(lowestKept).isGreaterThanOrEqualTo(highestDropped);
        }
    }

    @Test
    void hashRoutingIsAFixedFunctionOfTheTokenId() {
        HashRouter r = new HashRouter(d, 5, 17, Capacity.unlimited());
        long[] ids = new long[T];
        for (int t = 0; t < T; t++) ids[t] = t % 7;
        Routing routing = r.route(x, ids);
        for (int t = 0; t < T; t++) {
            assertThat(routing.expertIds()[t]).isEqualTo(r.expertOf(t % 7)).isBetween(0, 4);
            assertThat(routing.expertIds()[t]).isEqualTo(routing.expertIds()[t % 7]);
        }
        assertThat(routing.weights().toDoubleArray()).containsOnly(1.0);
        assertThat(r.parameters()).isEmpty();
        int[] counts = new int[5];
        for (long id = 0; id < 5000; id++) counts[r.expertOf(id)]++;
        for (int n : counts) assertThat(n).isBetween(850, 1150);
        assertThatThrownBy(() -> r.route(x)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token ids");
    }

    @Test
    void topPTakesExpertsUntilTheirProbabilityPassesP() {
        TopPRouter r = new TopPRouter(d, 6, 0.6, 6, DType.F32, g, 0.8);
        Routing routing = r.route(x);
        double[] s = routing.scores().toDoubleArray();
        int used = 0;
        for (int t = 0; t < T; t++) {
            Integer[] best = ranking(s, t, 6);
            double sum = 0;
            int n = 0;
            while (sum < 0.6) sum += s[t * 6 + best[n++]];
            for (int j = 0; j < 6; j++) {
                assertThat(routing.expertIds()[t * 6 + j]).isEqualTo(best[j]);
                assertThat(routing.isSelected(t * 6 + j)).isEqualTo(j < n);
            }
            used += n;
        }
        assertThat(routing.plan().numRows()).isEqualTo(used);
    }

    @Test
    void nullExpertsComputeNothing() {
        NullExpertRouter r = new NullExpertRouter(d, 3, 3, 2, true, DType.F32, g, 1.0);
        Routing routing = r.route(x);
        assertThat(routing.nullPairs()).isPositive();
        int real = 0;
        for (int p = 0; p < 2 * T; p++) {
            if (routing.expertIds()[p] < 3) real++;
            else assertThat(routing.plan().pairToRow()[p]).isEqualTo(-1);
        }
        assertThat(routing.plan().numRows()).isEqualTo(real);
        assertThat(routing.droppedPairs()).isZero();
        assertThat(r.weight().shape()).containsExactly(6, d);
    }

    @Test
    void deepSeekGroupLimitedSelection() {
        DeepSeekV3Router r = new DeepSeekV3Router(d, 8, 2, 4, 2, true, 2.5, DType.F32, g, 0.8);
        Routing routing = r.route(x);
        double[] s = routing.scores().toDoubleArray(), w = routing.weights().toDoubleArray();
        for (int t = 0; t < T; t++) {
            // the two best groups by the sum of their two scores
            double[] gs = new double[4];
            for (int q = 0; q < 4; q++) gs[q] = s[t * 8 + 2 * q] + s[t * 8 + 2 * q + 1];
            Integer[] groups = ranking(gs, 0, 4);
            for (int j = 0; j < 2; j++) {
                int e = routing.expertIds()[t * 2 + j];
                assertThat(e / 2).isIn(groups[0], groups[1]);
            }
            assertThat(w[2 * t] + w[2 * t + 1]).isCloseTo(2.5, offset(1e-5));
        }
        assertThat(r.selectionBias().shape()).containsExactly(8);
    }

    @Test
    void plansMatchTheKernelPlanForAGlobalCapacity() {
        int[] ids = TestData.ids(g, 30, 2, 5);
        RoutingPlan mine = Plans.build(ids, null, null, 30, 2, 5, Capacity.fixed(7, DropPolicy.BY_POSITION, 0));
        RoutingPlan kernel = RoutingPlan.build(ids, null, 30, 2, 5, 7, DropPolicy.BY_POSITION);
        assertThat(mine.rowToPair()).containsExactly(kernel.rowToPair());
        assertThat(mine.pairToRow()).containsExactly(kernel.pairToRow());
        assertThat(mine.offsets()).containsExactly(kernel.offsets());
        assertThat(mine.dropped()).containsExactly(kernel.dropped());
        double[] w = new double[60];
        float[] wf = new float[60];
        for (int i = 0; i < 60; i++) wf[i] = (float) (w[i] = g.nextDouble());
        RoutingPlan s1 = Plans.build(ids, null, w, 30, 2, 5, Capacity.fixed(7, DropPolicy.BY_SCORE, 0));
        RoutingPlan s2 = RoutingPlan.build(ids, wf, 30, 2, 5, 7, DropPolicy.BY_SCORE);
        assertThat(s1.rowToPair()).containsExactly(s2.rowToPair());
    }

    @Test
    void badRouterSettings() {
        assertThatThrownBy(() -> new SoftmaxTopKRouter(d, 0, 1, true, Capacity.unlimited(), false, DType.F32, g, 0.1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E must be >= 1");
        assertThatThrownBy(() -> new SoftmaxTopKRouter(d, 4, 5, true, Capacity.unlimited(), false, DType.F32, g, 0.1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k = 5 exceeds the number of experts E = 4");
        assertThatThrownBy(() -> Capacity.ofFactor(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("capacity factor");
        assertThatThrownBy(() -> Capacity.fixed(-2, DropPolicy.BY_POSITION, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("capacity");
        assertThatThrownBy(() -> new DeepSeekV3Router(d, 6, 2, 4, 2, true, 1, DType.F32, g, 0.1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not divisible by nGroup");
        assertThatThrownBy(() -> new TopPRouter(d, 4, 1.5, 4, DType.F32, g, 0.1)).isInstanceOf(IllegalArgumentException.class);
        SoftmaxTopKRouter r = new SoftmaxTopKRouter(d, 4, 2, true, Capacity.unlimited(), false, DType.F32, g, 0.1);
        assertThatThrownBy(() -> r.route(Tensor.zeros(3, d + 1))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[T, d = 6]");
    }

    @Test
    void nanLogitsFailFastNamingTheToken() {
        SoftmaxTopKRouter r = new SoftmaxTopKRouter(d, 4, 2, true, Capacity.unlimited(), false, DType.F32, g, 0.1);
        Tensor bad = x.copy();
        bad.set(Double.NaN, 7, 2);
        assertThatThrownBy(() -> r.route(bad)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token 7");
        r.failOnNaN(false);
        Routing routing = r.route(bad);
        assertThat(routing.numTokens()).isEqualTo(T);
    }
}
