package dev.moe4j.moe;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.optim.SGD;
import dev.moe4j.kernels.cpu.Erf;
import dev.moe4j.moe.balance.NoisyTopKLosses;
import dev.moe4j.moe.balance.NormalCdf;
import dev.moe4j.moe.balance.RouterEntropyLoss;
import dev.moe4j.moe.ops.Softplus;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.NoisyTopKRouter;
import dev.moe4j.moe.routing.TopPRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** Noisy top-k's importance and load losses, the normal CDF, and the top-p router's entropy loss. */
class RoutingLossesTest {
    private static final int D = 5;

    @Test
    void normalCdfValuesAndGradient() {
        Tensor z = Tensor.of(new double[] {0, 1.959963984540054, -1.959963984540054, -8, 3}, 5);
        double[] p = new NormalCdf().apply(z).toDoubleArray();
        assertThat(p[0]).isCloseTo(0.5, offset(1e-15));
        assertThat(p[1]).isCloseTo(0.975, offset(1e-9));
        assertThat(p[2]).isCloseTo(0.025, offset(1e-9));
        assertThat(p[3]).isCloseTo(6.22096057427178e-16, offset(1e-25));
        assertThat(p[4]).isCloseTo(0.5 * Erf.erfc(-3 / Math.sqrt(2)), offset(1e-15));
        MethodChecks.gradCheck(in -> new NormalCdf().apply(in[0]), TestData.param(new Generator(1), 2, 3, 4));
        assertThat(new NormalCdf().apply(z.to(DType.F32)).dtype()).isEqualTo(DType.F32);
    }

    @Test
    void importanceIsTheGateWeightPerExpertAndItsCvSquared() {
        NoisyTopKRouter router = new NoisyTopKRouter(D, 4, 2, Capacity.unlimited(), DType.F64, new Generator(2), 0.7);
        router.eval();
        Tensor x = TestData.param(new Generator(3), 1, 9, D);
        Routing r = router.route(x);
        double[] imp = NoisyTopKLosses.importance(r).toDoubleArray(), w = r.weights().toDoubleArray();
        double[] want = new double[4];
        for (int p = 0; p < 18; p++) want[r.expertIds()[p]] += w[p];
        for (int e = 0; e < 4; e++) assertThat(imp[e]).isCloseTo(want[e], offset(1e-12));
        double mean = Arrays.stream(want).average().orElseThrow(), var = 0;
        for (double v : want) var += (v - mean) * (v - mean) / 4;
        assertThat(NoisyTopKLosses.importanceLoss(r).item()).isCloseTo(var / (mean * mean + 1e-10), offset(1e-12));
        MethodChecks.gradCheck(in -> NoisyTopKLosses.importanceLoss(router.route(in[0])), MethodChecks.withParameters(x, router));
        assertThat(NoisyTopKLosses.cvSquared(Tensor.of(new double[] {3, 3, 3}, 3)).item()).isZero();
        assertThat(NoisyTopKLosses.cvSquared(Tensor.of(new double[] {3}, 1)).item()).isZero();
    }

    @Test
    void loadUsesTheRightThresholdPerExpert() {
        // one token, E = 4, k = 2: noisy = (3, 1, 2, 0) -> top 2 = {0, 2}; (k+1)-th = 1, k-th = 2
        Tensor clean = Tensor.of(new double[] {2.5, 0.5, 1.0, 0.2}, 1, 4), noisy = Tensor.of(new double[] {3, 1, 2, 0}, 1, 4);
        Tensor std = Tensor.of(new double[] {0.5, 1, 2, 4}, 1, 4);
        double[] load = NoisyTopKLosses.load(clean, noisy, std, 2).toDoubleArray();
        double[] thresholds = {1, 2, 1, 2};
        for (int e = 0; e < 4; e++) {
            double z = (clean.toDoubleArray()[e] - thresholds[e]) / std.toDoubleArray()[e];
            assertThat(load[e]).isCloseTo(0.5 * Erf.erfc(-z / Math.sqrt(2)), offset(1e-15));
        }
        Generator g = new Generator(4);
        Tensor c = TestData.param(g, 1, 6, 5), n = TestData.param(g, 1, 6, 5), s = TestData.param(g, 0.3, 6, 5);
        Tensor sPos = F.add(F.abs(s), 0.5).detach().setRequiresGrad(true);
        MethodChecks.gradCheck(in -> NoisyTopKLosses.load(in[0], in[1], in[2], 2), c, n, sPos);
        assertThatThrownBy(() -> NoisyTopKLosses.load(clean, noisy, std, 4)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k < E");
    }

    @Test
    void smoothLoadIsTheExpectedTokenCountUnderTheNoise() {
        int T = 24, E = 4, k = 1, draws = 400;
        NoisyTopKRouter router = new NoisyTopKRouter(D, E, k, Capacity.unlimited(), DType.F64, new Generator(5), 0.6);
        Tensor x = TestData.randn(new Generator(6), DType.F64, 1, T, D);
        double[] counted = new double[E], smooth = new double[E];
        for (int i = 0; i < draws; i++) {
            Routing r = router.route(x);
            int[] load = r.load();
            double[] s = NoisyTopKLosses.load(router, x, r).toDoubleArray();
            for (int e = 0; e < E; e++) {
                counted[e] += (double) load[e] / draws;
                smooth[e] += s[e] / draws;
            }
        }
        double totalSmooth = 0;
        for (int e = 0; e < E; e++) {
            assertThat(smooth[e]).as("expert " + e).isCloseTo(counted[e], offset(0.6));
            totalSmooth += smooth[e];
        }
        assertThat(totalSmooth).isCloseTo(T * k, offset(1.0));
        // gradient of the load loss w.r.t. x and both weights, for one fixed noise draw
        Tensor xp = TestData.param(new Generator(7), 1, 8, D);
        Routing fixed = router.route(xp);
        Tensor noisy = fixed.logits().detach();
        Tensor eps = F.div(F.sub(noisy, F.linear(xp, router.weight(), null)), new Softplus().apply(F.linear(xp, router.noiseWeight(), null))).detach();
        MethodChecks.gradCheck(in -> {
            Tensor clean = F.linear(in[0], in[1], null), std = new Softplus().apply(F.linear(in[0], in[2], null));
            return NoisyTopKLosses.cvSquared(NoisyTopKLosses.load(clean, F.add(clean, F.mul(eps, std)), std, k));
        }, xp, router.weight(), router.noiseWeight());
        router.eval();
        Routing evalRouting = router.route(x);
        double[] hard = NoisyTopKLosses.load(router, x, evalRouting).toDoubleArray();
        for (int e = 0; e < E; e++) assertThat(hard[e]).isEqualTo(evalRouting.load()[e]);
    }

    @Test
    void entropyOfTheRouterDistribution() {
        assertThat(RouterEntropyLoss.entropy(Tensor.zeros(DType.F64, 3, 8)).item()).isCloseTo(Math.log(8), offset(1e-12));
        assertThat(RouterEntropyLoss.entropy(Tensor.of(new double[] {60, 0, 0, 0}, 1, 4)).item()).isCloseTo(0, offset(1e-20));
        Tensor logits = TestData.param(new Generator(8), 1.3, 5, 6);
        double[] l = logits.toDoubleArray();
        double want = 0;
        for (int t = 0; t < 5; t++) {
            double z = 0;
            for (int e = 0; e < 6; e++) z += Math.exp(l[t * 6 + e]);
            for (int e = 0; e < 6; e++) {
                double p = Math.exp(l[t * 6 + e]) / z;
                want -= p * Math.log(p) / 5;
            }
        }
        assertThat(RouterEntropyLoss.entropy(logits).item()).isCloseTo(want, offset(1e-12));
        MethodChecks.gradCheck(in -> RouterEntropyLoss.entropy(in[0]), logits);
        assertThat(RouterEntropyLoss.entropy(Tensor.zeros(DType.F64, 0, 4)).item()).isZero();
        Routing fixed = MethodChecks.routing(new int[] {0, 1}, 2, 1, 2);
        assertThatThrownBy(() -> RouterEntropyLoss.of(fixed)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no logits");
    }

    @Test
    void trainingTheEntropyLossMakesTopPUseFewerExperts() {
        TopPRouter router = new TopPRouter(D, 8, 0.6, 8, DType.F32, new Generator(9), 0.05);
        Tensor x = TestData.randn(new Generator(10), DType.F32, 1, 64, D);
        double before = selectedPerToken(router.route(x));
        SGD opt = new SGD(router.parameters(), 1.0);
        for (int step = 0; step < 40; step++) {
            opt.zeroGrad();
            Autograd.backward(RouterEntropyLoss.of(router.route(x)));
            opt.step();
        }
        Routing after = router.route(x);
        assertThat(selectedPerToken(after)).isLessThan(0.6 * before);
        MethodChecks.gradCheck(in -> RouterEntropyLoss.of(new TopPRouter(D, 4, 0.5, 3, DType.F64, new Generator(11), 0.5).route(in[0])),
                TestData.param(new Generator(12), 1, 4, D));
    }

    private static double selectedPerToken(Routing r) {
        int n = 0;
        for (int p = 0; p < r.plan().numPairs(); p++) if (r.isSelected(p)) n++;
        return (double) n / r.numTokens();
    }
}
