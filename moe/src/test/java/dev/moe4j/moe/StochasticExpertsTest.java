package dev.moe4j.moe;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.balance.ConsistencyLoss;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.routing.ActiveExpertSchedule;
import dev.moe4j.moe.routing.FrozenRandomRouter;
import dev.moe4j.moe.routing.StochasticExpertRouter;
import dev.moe4j.moe.routing.StochasticExpertRouter.Granularity;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** THOR (random experts + consistency regulariser) and SMoE-Dropout (frozen random router, growing k). */
class StochasticExpertsTest {

    private static MoeLayer layer(dev.moe4j.moe.routing.Router router, int d, int f, DType dtype, long seed) {
        GroupedExperts experts = new GroupedExperts(router.numExperts(), d, f, ExpertActivation.SILU, true, dtype, new Generator(seed), 0.4);
        return new MoeLayer(router, "gate", experts, null, "shared_experts", null, Balancing.none(), 0, seed);
    }

    // ------------------------------------------------------------------ THOR

    @Test
    void randomExpertsAreDistinctUniformAndWeighedEqually() {
        int T = 4000, E = 4, k = 2;
        StochasticExpertRouter router = new StochasticExpertRouter(3, E, k, Granularity.TOKEN, 5);
        Routing r = router.route(Tensor.zeros(DType.F32, T, 3));
        int[] ids = r.expertIds();
        for (int t = 0; t < T; t++) assertThat(ids[t * k]).isNotEqualTo(ids[t * k + 1]);
        // each expert's count is binomial(T, k/E): mean 2000, sd ~32
        for (int c : r.load()) assertThat((double) c).isCloseTo(T * (double) k / E, offset(160.0));
        assertThat(r.weights().toDoubleArray()).containsOnly(0.5);
        assertThat(r.logits()).isNull();
        // new draws each training call; the same draws each evaluation call
        assertThat(router.route(Tensor.zeros(DType.F32, 50, 3)).expertIds()).isNotEqualTo(router.route(Tensor.zeros(DType.F32, 50, 3)).expertIds());
        router.eval();
        assertThat(router.route(Tensor.zeros(DType.F32, 50, 3)).expertIds()).containsExactly(router.route(Tensor.zeros(DType.F32, 50, 3)).expertIds());
        // one draw per batch
        StochasticExpertRouter batch = new StochasticExpertRouter(3, 8, 1, Granularity.BATCH, 6);
        Set<Integer> seen = new HashSet<>();
        for (int call = 0; call < 40; call++) {
            int[] b = batch.route(Tensor.zeros(DType.F32, 10, 3)).expertIds();
            for (int id : b) assertThat(id).isEqualTo(b[0]);
            seen.add(b[0]);
        }
        assertThat(seen.size()).isGreaterThan(4);
    }

    @Test
    void consistencyLossIsTheSymmetricKl() {
        Generator g = new Generator(7);
        Tensor a = TestData.param(g, 1.5, 5, 4), b = TestData.param(g, 1.5, 5, 4);
        double[] la = a.toDoubleArray(), lb = b.toDoubleArray();
        double want = 0;
        for (int n = 0; n < 5; n++) {
            double za = 0, zb = 0;
            for (int c = 0; c < 4; c++) { za += Math.exp(la[n * 4 + c]); zb += Math.exp(lb[n * 4 + c]); }
            for (int c = 0; c < 4; c++) {
                double pa = Math.exp(la[n * 4 + c]) / za, pb = Math.exp(lb[n * 4 + c]) / zb;
                want += 0.5 * (pa * Math.log(pa / pb) + pb * Math.log(pb / pa)) / 5;
            }
        }
        assertThat(ConsistencyLoss.symmetricKl(a, b).item()).isCloseTo(want, offset(1e-12));
        assertThat(ConsistencyLoss.symmetricKl(b, a).item()).isCloseTo(want, offset(1e-12));
        assertThat(ConsistencyLoss.symmetricKl(a, a).item()).isCloseTo(0, offset(1e-15));
        MethodChecks.gradCheck(in -> ConsistencyLoss.symmetricKl(in[0], in[1]), a, b);
        Tensor target = Tensor.of(new long[] {0, 3, 1, 2, 2}, 5);
        MethodChecks.gradCheck(in -> ConsistencyLoss.thorObjective(in[0], in[1], target, 0.7), a, b);
        assertThat(ConsistencyLoss.thorObjective(a, b, target, 0.7).item()).isCloseTo(
                0.5 * (F.crossEntropy(a, target).item() + F.crossEntropy(b, target).item()) + 0.7 * want, offset(1e-12));
        assertThatThrownBy(() -> ConsistencyLoss.symmetricKl(a, TestData.param(g, 1, 5, 3))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void thorLayerGradientsInEvaluation() {
        MoeLayer layer = layer(new StochasticExpertRouter(4, 3, 1, Granularity.TOKEN, 8), 4, 3, DType.F64, 9);
        layer.eval();
        MethodChecks.gradCheck(in -> layer.forward(in[0]), MethodChecks.withParameters(TestData.param(new Generator(10), 1, 6, 4), layer));
        assertThat(layer.router().parameters()).isEmpty();
    }

    @Test
    void thorTrainingWithTwoRandomPassesMakesTheExpertsAgree() {
        int d = 6, N = 64;
        MoeLayer layer = layer(new StochasticExpertRouter(d, 4, 1, Granularity.TOKEN, 11), d, 8, DType.F32, 12);
        Tensor x = TestData.randn(new Generator(13), DType.F32, 1, N, d);
        long[] cls = new long[N];
        double[] xs = x.toDoubleArray();
        for (int n = 0; n < N; n++) cls[n] = xs[n * d] + xs[n * d + 1] > 0 ? (xs[n * d + 2] > 0 ? 0 : 1) : (xs[n * d + 3] > 0 ? 2 : 3);
        Tensor target = Tensor.of(cls, N);
        Adam opt = new Adam(layer.parameters(), 0.02);
        double firstLoss = 0, lastLoss = 0, firstKl = 0, lastKl = 0;
        for (int step = 0; step < 60; step++) {
            opt.zeroGrad();
            Tensor a = layer.forward(x), b = layer.forward(x);
            Tensor loss = ConsistencyLoss.thorObjective(a, b, target, 1.0);
            double kl = ConsistencyLoss.symmetricKl(a.detach(), b.detach()).item();
            Autograd.backward(loss);
            opt.step();
            if (step == 0) { firstLoss = loss.item(); firstKl = kl; }
            lastLoss = loss.item();
            lastKl = kl;
        }
        assertThat(lastLoss).isLessThan(0.7 * firstLoss);
        assertThat(lastKl).isLessThan(firstKl);
    }

    // ------------------------------------------------------------------ SMoE-Dropout

    @Test
    void frozenRouterHasNoParametersAndPassesGradientToTheInput() {
        FrozenRandomRouter router = new FrozenRandomRouter(4, 5, 2, DType.F64, new Generator(14), 1.0);
        assertThat(router.parameters()).isEmpty();
        assertThat(router.namedBuffers().keySet()).containsExactly("weight");
        assertThat(router.weight().requiresGrad()).isFalse();
        Tensor x = TestData.param(new Generator(15), 1, 6, 4);
        MethodChecks.gradCheck(in -> router.route(in[0]).weights(), x);
        router.setActiveExperts(5);
        Routing dense = router.route(x);
        for (int t = 0; t < 6; t++) {
            Set<Integer> all = new HashSet<>();
            for (int j = 0; j < 5; j++) all.add(dense.expertIds()[t * 5 + j]);
            assertThat(all).hasSize(5);
        }
        assertThat(dense.load()).containsOnly(6);
        assertThatThrownBy(() -> router.setActiveExperts(6)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[1, E = 5]");
    }

    @Test
    void scheduleRaisesKInEqualStages() {
        ActiveExpertSchedule s = new ActiveExpertSchedule(1, 4, 100);
        int[] steps = new int[5];
        int prev = 1;
        for (int step = 0; step < 100; step++) {
            int k = s.k(step);
            assertThat(k).isBetween(prev, 4);
            prev = k;
            steps[k]++;
        }
        assertThat(s.k(0)).isEqualTo(1);
        assertThat(s.k(99)).isEqualTo(4);
        assertThat(s.k(5000)).isEqualTo(4);
        assertThat(new int[] {steps[1], steps[2], steps[3], steps[4]}).containsOnly(25);
        assertThat(new ActiveExpertSchedule(2, 2, 10).k(3)).isEqualTo(2);
        assertThatThrownBy(() -> new ActiveExpertSchedule(3, 2, 10)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.k(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void smoeDropoutTrainsTheExpertsUnderTheScheduleAndNeverTheRouter() {
        int d = 6;
        FrozenRandomRouter router = new FrozenRandomRouter(d, 4, 1, DType.F32, new Generator(16), 1.0);
        MoeLayer student = layer(router, d, 8, DType.F32, 17);
        MoeLayer teacher = new MoeLayer(new MoeOptions().hiddenSize(d).intermediateSize(8).experts(4).topK(4).seed(40).initStd(0.5, 0.4));
        Tensor x = TestData.randn(new Generator(18), DType.F32, 1, 48, d);
        Tensor target = teacher.forward(x).detach();
        double[] w0 = router.weight().toDoubleArray();
        ActiveExpertSchedule schedule = new ActiveExpertSchedule(1, 4, 60);
        Adam opt = new Adam(student.parameters(), 0.02);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            int k = schedule.apply(router, step);
            opt.zeroGrad();
            Tensor loss = F.mseLoss(student.forward(x), target);
            assertThat(student.lastRouting().topK()).isEqualTo(k);
            Autograd.backward(loss);
            opt.step();
            if (step == 0) first = loss.item();
            last = loss.item();
        }
        assertThat(last).isLessThan(0.5 * first);
        assertThat(router.weight().toDoubleArray()).containsExactly(w0);
        // self-slimmable: fewer experts at inference still run
        router.setActiveExperts(2);
        assertThat(student.forward(x).shape()).containsExactly(48, d);
    }
}
