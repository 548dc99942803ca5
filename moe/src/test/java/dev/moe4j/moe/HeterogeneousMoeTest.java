package dev.moe4j.moe;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.optim.SGD;
import dev.moe4j.moe.balance.BalanceLosses;
import dev.moe4j.moe.balance.ParameterPenaltyLoss;
import dev.moe4j.moe.experts.HeterogeneousExperts;
import dev.moe4j.moe.methods.HeterogeneousMoeLayer;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.moe.routing.TopPRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** HMoE: experts of different sizes and the parameter penalty loss. */
class HeterogeneousMoeTest {
    private static final int D = 4;
    private static final int[] SIZES = {2, 5, 3};

    private static HeterogeneousMoeLayer layer(DType dtype, double penalty, long seed) {
        Generator g = new Generator(seed);
        return new HeterogeneousMoeLayer(new SoftmaxTopKRouter(D, SIZES.length, 2, true, Capacity.unlimited(), false, dtype, g, 0.8),
                new HeterogeneousExperts(D, SIZES, ExpertActivation.SILU, true, dtype, g, 0.5), penalty);
    }

    @Test
    void eachExpertIsASwiGluOfItsOwnWidth() {
        HeterogeneousMoeLayer layer = layer(DType.F64, 0, 1);
        Tensor x = TestData.randn(new Generator(2), DType.F64, 1, 2, 6, D);
        double[] y = layer.forward(x).toDoubleArray();
        assertThat(layer.forward(x).shape()).containsExactly(2, 6, D);
        Routing r = layer.lastRouting();
        double[] xs = x.toDoubleArray(), w = r.weights().toDoubleArray();
        HeterogeneousExperts ex = layer.experts();
        for (int e = 0; e < SIZES.length; e++) {
            assertThat(ex.upProjection(e).shape()).containsExactly(2 * SIZES[e], D);
            assertThat(ex.downProjection(e).shape()).containsExactly(D, SIZES[e]);
        }
        for (int t = 0; t < 12; t++) {
            double[] want = new double[D];
            for (int j = 0; j < 2; j++) {
                int e = r.expertIds()[t * 2 + j], f = SIZES[e];
                double[] gu = ex.upProjection(e).toDoubleArray(), dn = ex.downProjection(e).toDoubleArray();
                for (int o = 0; o < D; o++) {
                    double s = 0;
                    for (int c = 0; c < f; c++) {
                        double hg = 0, hu = 0;
                        for (int i = 0; i < D; i++) {
                            hg += gu[c * D + i] * xs[t * D + i];
                            hu += gu[(f + c) * D + i] * xs[t * D + i];
                        }
                        s += dn[o * f + c] * MethodChecks.silu(hg) * hu;
                    }
                    want[o] += w[t * 2 + j] * s;
                }
            }
            for (int o = 0; o < D; o++) assertThat(y[t * D + o]).isCloseTo(want[o], offset(1e-12));
        }
        assertThat(layer.namedParameters().keySet()).containsExactly("gate.weight", "experts.0.gate_up_proj", "experts.0.down_proj",
                "experts.1.gate_up_proj", "experts.1.down_proj", "experts.2.gate_up_proj", "experts.2.down_proj");
        assertThat(ex.parameterCounts()).containsExactly(3.0 * 2 * D, 3.0 * 5 * D, 3.0 * 3 * D);
    }

    @Test
    void gradientsOfLayerAndPenalty() {
        HeterogeneousMoeLayer layer = layer(DType.F64, 0.3, 3);
        Tensor x = TestData.param(new Generator(4), 1, 7, D);
        MethodChecks.gradCheck(in -> layer.forward(in[0]), MethodChecks.withParameters(x, layer));
        MethodChecks.gradCheck(in -> {
            layer.forward(in[0]);
            return layer.auxLoss();
        }, MethodChecks.withParameters(x, layer));
        assertThat(layer.report().losses()).containsOnlyKeys("parameter_penalty");
        assertThat(layer.auxLoss().item()).isCloseTo(0.3 * layer.report().losses().get("parameter_penalty"), offset(1e-12));
        // plain (non-gated) experts too
        Generator g = new Generator(5);
        HeterogeneousMoeLayer plain = new HeterogeneousMoeLayer(new SoftmaxTopKRouter(D, 3, 1, false, Capacity.unlimited(), false, DType.F64, g, 0.8),
                new HeterogeneousExperts(D, new int[] {1, 2, 4}, ExpertActivation.GELU, false, DType.F64, g, 0.5), 0);
        MethodChecks.gradCheck(in -> plain.forward(in[0]), MethodChecks.withParameters(TestData.param(new Generator(6), 1, 5, D), plain));
    }

    @Test
    void penaltyIsTheSwitchLossWeighedBySize() {
        Generator g = new Generator(7);
        Tensor probs = F.softmax(TestData.param(g, 1, 9, 4), -1);
        int[] ids = TestData.ids(g, 9, 2, 4);
        double sw = BalanceLosses.switchLoadBalancing(probs, ids, 2).item();
        assertThat(ParameterPenaltyLoss.compute(probs, ids, 2, new double[] {5, 5, 5, 5}).item()).isCloseTo(sw, offset(1e-12));
        double[] sizes = {1, 2, 3, 6};
        double[] p = probs.toDoubleArray();
        double want = 0;
        for (int e = 0; e < 4; e++) {
            double f = 0, meanP = 0;
            for (int t = 0; t < 9; t++) {
                meanP += p[t * 4 + e] / 9;
                for (int j = 0; j < 2; j++) if (ids[t * 2 + j] == e) f += 1.0 / 9;
            }
            want += 4 * sizes[e] / 3.0 * f * meanP;
        }
        assertThat(ParameterPenaltyLoss.compute(probs, ids, 2, sizes).item()).isCloseTo(want, offset(1e-12));
        MethodChecks.gradCheck(in -> ParameterPenaltyLoss.compute(F.softmax(in[0], -1), ids, 2, sizes), TestData.param(g, 1, 9, 4));
        assertThatThrownBy(() -> ParameterPenaltyLoss.compute(probs, ids, 2, new double[] {1, 0, 1, 1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expert 1 has size 0");
    }

    @Test
    void trainingThePenaltyMovesTokensToSmallExperts() {
        Tensor x = TestData.randn(new Generator(9), DType.F32, 1, 64, D);
        double[] before = new double[1];
        double penalised = trainRouter(x, true, before), switchOnly = trainRouter(x, false, null);
        assertThat(penalised).isLessThan(0.75 * before[0]);
        assertThat(penalised).isLessThan(0.75 * switchOnly);
    }

    /** Trains only the router on the penalty (or, for comparison, on the plain Switch loss); returns the activated parameters after. */
    private static double trainRouter(Tensor x, boolean penalty, double[] before) {
        Generator g = new Generator(8);
        int[] sizes = {2, 8, 32};
        HeterogeneousMoeLayer layer = new HeterogeneousMoeLayer(new SoftmaxTopKRouter(D, 3, 1, false, Capacity.unlimited(), false, DType.F32, g, 0.3),
                new HeterogeneousExperts(D, sizes, ExpertActivation.SILU, true, DType.F32, g, 0.1), 1.0);
        double[] equal = {1, 1, 1};
        SGD opt = new SGD(layer.router().parameters(), 0.5);
        layer.forward(x);
        if (before != null) before[0] = layer.lastActivatedParameters();
        for (int step = 0; step < 40; step++) {
            opt.zeroGrad();
            layer.forward(x);
            Autograd.backward(penalty ? layer.auxLoss() : ParameterPenaltyLoss.of(layer.lastRouting(), equal));
            opt.step();
        }
        layer.forward(x);
        return layer.lastActivatedParameters();
    }

    @Test
    void topPRoutingEmptyExpertsAndBadInput() {
        Generator g = new Generator(10);
        HeterogeneousMoeLayer layer = new HeterogeneousMoeLayer(new TopPRouter(D, 3, 0.5, 3, DType.F64, g, 1.0),
                new HeterogeneousExperts(D, SIZES, ExpertActivation.SILU, true, DType.F64, g, 0.5), 0.1);
        Tensor x = TestData.param(new Generator(11), 1, 6, D);
        MethodChecks.gradCheck(in -> F.add(F.sum(layer.forward(in[0])), layer.auxLoss()), MethodChecks.withParameters(x, layer));
        // one token: at least one expert gets no rows
        Tensor one = TestData.randn(new Generator(12), DType.F64, 1, 1, D);
        assertThat(layer.forward(one).shape()).containsExactly(1, D);
        assertThat(layer.forward(Tensor.zeros(DType.F64, 0, D)).shape()).containsExactly(0, D);
        assertThat(layer.lastActivatedParameters()).isZero();
        assertThatThrownBy(() -> layer.forward(Tensor.zeros(DType.F64, 2, D + 1))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("d = 4");
        assertThatThrownBy(() -> new HeterogeneousExperts(D, new int[] {2, 0}, ExpertActivation.SILU, true, DType.F32, g, 0.1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expert 1");
        assertThatThrownBy(() -> new HeterogeneousMoeLayer(new SoftmaxTopKRouter(D, 2, 1, true, Capacity.unlimited(), false, DType.F32, g, 0.1),
                new HeterogeneousExperts(D, SIZES, ExpertActivation.SILU, true, DType.F32, g, 0.1), 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> layer.experts().forward(Tensor.zeros(DType.F64, 3, D), new int[] {0, 1, 2, 2}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("offsets must run from 0 to R = 3");
    }
}
