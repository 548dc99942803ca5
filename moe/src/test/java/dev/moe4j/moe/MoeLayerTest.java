package dev.moe4j.moe;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** The MoE layer end to end: against a per-token loop, gradient checks, training, reports, bad input. */
class MoeLayerTest {

    private static MoeOptions small(RouterKind kind) {
        return new MoeOptions().router(kind).hiddenSize(4).intermediateSize(3).experts(4).topK(kind == RouterKind.SWITCH || kind == RouterKind.HASH ? 1 : 2)
                .dtype(DType.F64).initStd(0.8, 0.5).seed(kind.ordinal() + 1);
    }

    @Test
    void matchesAPerTokenLoop() {
        MoeLayer layer = new MoeLayer(small(RouterKind.SOFTMAX_TOPK).sharedExpert(5, true));
        Tensor x = TestData.randn(new Generator(1), DType.F64, 1, 2, 5, 4);
        double[] y = layer.forward(x).toDoubleArray();
        Routing r = layer.lastRouting();
        double[] xs = x.toDoubleArray(), w = r.weights().toDoubleArray();
        double[] gu = layer.experts().upProjection().toDoubleArray(), dn = layer.experts().downProjection().toDoubleArray();
        double[] sg = layer.sharedExpert().gateProj().weight().toDoubleArray(), su = layer.sharedExpert().upProj().weight().toDoubleArray();
        double[] sd = layer.sharedExpert().downProj().weight().toDoubleArray(), gate = layer.sharedExpertGate().weight().toDoubleArray();
        int d = 4, f = 3;
        for (int t = 0; t < 10; t++) {
            double[] want = new double[d];
            for (int j = 0; j < 2; j++) {
                int e = r.expertIds()[t * 2 + j];
                double[] a = new double[f];
                for (int c = 0; c < f; c++) {
                    double hg = 0, hu = 0;
                    for (int i = 0; i < d; i++) {
                        hg += gu[(e * 2 * f + c) * d + i] * xs[t * d + i];
                        hu += gu[(e * 2 * f + f + c) * d + i] * xs[t * d + i];
                    }
                    a[c] = ExpertActivation.SILU.apply(hg) * hu;
                }
                for (int o = 0; o < d; o++) {
                    double s = 0;
                    for (int c = 0; c < f; c++) s += dn[(e * d + o) * f + c] * a[c];
                    want[o] += w[t * 2 + j] * s;
                }
            }
            double z = 0;
            for (int i = 0; i < d; i++) z += gate[i] * xs[t * d + i];
            double[] a = new double[5];
            for (int c = 0; c < 5; c++) {
                double hg = 0, hu = 0;
                for (int i = 0; i < d; i++) {
                    hg += sg[c * d + i] * xs[t * d + i];
                    hu += su[c * d + i] * xs[t * d + i];
                }
                a[c] = ExpertActivation.SILU.apply(hg) * hu;
            }
            for (int o = 0; o < d; o++) {
                double s = 0;
                for (int c = 0; c < 5; c++) s += sd[o * 5 + c] * a[c];
                want[o] += s / (1 + Math.exp(-z));
                assertThat(y[t * d + o]).isCloseTo(want[o], offset(1e-12));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(RouterKind.class)
    void gradientsOfTheWholeLayer(RouterKind kind) {
        MoeOptions o = small(kind).sharedExpert(kind == RouterKind.DEEPSEEK_V3 || kind == RouterKind.SOFTMAX_TOPK ? 3 : 0, kind == RouterKind.SOFTMAX_TOPK);
        if (kind == RouterKind.SWITCH) o.capacityFactor(1.0);
        if (kind == RouterKind.DEEPSEEK_V3) o.groups(2, 1).routedScalingFactor(2.0);
        if (kind == RouterKind.TOP_P) o.topK(3).topP(0.5);
        MoeLayer layer = new MoeLayer(o);
        layer.eval();
        Tensor x = TestData.param(new Generator(2), 1, 7, 4);
        long[] ids = {3, 1, 4, 1, 5, 9, 2};
        List<Tensor> inputs = new ArrayList<>(List.of(x));
        inputs.addAll(layer.parameters());
        GradCheck.Result r = GradCheck.check(in -> layer.forward(in[0], ids), inputs.toArray(new Tensor[0]));
        assertThat(r.passed()).as(kind + ": " + r.worst()).isTrue();
        if (kind == RouterKind.SWITCH) assertThat(layer.lastRouting().droppedPairs()).isPositive();
    }

    @Test
    void gradientsOfTheBalanceLosses() {
        MoeLayer layer = new MoeLayer(small(RouterKind.DEEPSEEK_V3).groups(2, 1)
                .balancing(new Balancing(0.5, 0.1, 0.3, 0)));
        Tensor x = TestData.param(new Generator(6), 1, 2, 4, 4);
        List<Tensor> inputs = new ArrayList<>(List.of(x));
        inputs.addAll(layer.parameters());
        GradCheck.Result r = GradCheck.check(in -> {
            layer.forward(in[0]);
            return layer.auxLoss();
        }, inputs.toArray(new Tensor[0]));
        assertThat(r.passed()).as(r.worst()).isTrue();
        assertThat(layer.report().losses()).containsOnlyKeys("switch_aux", "z_loss", "sequence_aux");
        double sum = 0.5 * layer.report().losses().get("switch_aux") + 0.1 * layer.report().losses().get("z_loss")
                + 0.3 * layer.report().losses().get("sequence_aux");
        assertThat(layer.auxLoss().item()).isCloseTo(sum, offset(1e-12));
    }

    @Test
    void trainingFitsATeacher() {
        MoeOptions o = new MoeOptions().hiddenSize(8).intermediateSize(8).experts(4).topK(2).seed(5).initStd(0.3, 0.3)
                .balancing(Balancing.auxLoss(0.01));
        MoeLayer teacher = new MoeLayer(o.seed(99)), student = new MoeLayer(o.seed(5));
        Tensor x = TestData.randn(new Generator(8), DType.F32, 1, 64, 8);
        Tensor target = teacher.forward(x).detach();
        Adam opt = new Adam(student.parameters(), 0.01);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            opt.zeroGrad();
            Tensor loss = F.add(F.mseLoss(student.forward(x), target), student.auxLoss());
            Autograd.backward(loss);
            opt.step();
            if (step == 0) first = loss.item();
            last = loss.item();
        }
        assertThat(last).isLessThan(0.5 * first);
    }

    @Test
    void droppedTokensPassWithZeroRoutedOutput() {
        MoeLayer layer = new MoeLayer(small(RouterKind.SWITCH).capacityFactor(0.5).dtype(DType.F32));
        Tensor x = TestData.randn(new Generator(3), DType.F32, 1, 16, 4);
        double[] y = layer.forward(x).toDoubleArray();
        Routing r = layer.lastRouting();
        assertThat(r.droppedPairs()).isPositive();
        for (int t = 0; t < 16; t++) {
            boolean dropped = r.plan().pairToRow()[t] < 0;
            double norm = 0;
            for (int c = 0; c < 4; c++) norm += Math.abs(y[t * 4 + c]);
            assertThat(norm == 0).isEqualTo(dropped);
        }
        assertThat(r.unprocessedTokens()).isEqualTo(r.droppedPairs());
    }

    @Test
    void reportShowsLoadDropsPermutationAndLosses() {
        MoeLayer layer = new MoeLayer(new MoeOptions().hiddenSize(6).intermediateSize(4).experts(3).topK(2).capacityFactor(0.8).seed(2)
                .initStd(1, 0.1).balancing(Balancing.auxLoss(0.01).withZLoss(0.001)));
        layer.forward(TestData.randn(new Generator(7), DType.F32, 1, 12, 6));
        RoutingReport report = layer.report();
        String text = report.toString();
        assertThat(text).contains("MoE routing report", "expert", "load", "demand", "dropped pairs: " + layer.lastRouting().droppedPairs(),
                "switch_aux=", "z_loss=", "RoutingPlan[T=12, k=2, E=3", "tokens (expert:weight)");
        assertThat(report.summary()).startsWith("load [").contains("switch_aux");
        int[] load = report.tokensPerExpert();
        assertThat(load[0] + load[1] + load[2]).isEqualTo(24 - layer.lastRouting().droppedPairs());
        assertThat(layer.lastLoad()).containsExactly(load);
    }

    @Test
    void lossFreeBiasUpdateBalancesTheLoad() {
        MoeLayer layer = new MoeLayer(new MoeOptions().router(RouterKind.DEEPSEEK_V3).hiddenSize(6).intermediateSize(4).experts(4).topK(1)
                .seed(3).initStd(0.05, 0.1).balancing(Balancing.lossFree(0.02)));
        // a router that strongly prefers expert 0
        ((dev.moe4j.moe.routing.DeepSeekV3Router) layer.router()).weight().select(0, 0).fill(0.8);
        Tensor x = TestData.randn(new Generator(4), DType.F32, 1, 64, 6).add(0.5);
        layer.forward(x);
        double before = layer.report().maxOverMeanLoad();
        assertThat(before).isGreaterThan(3.0);
        int[] load = layer.lastLoad();
        double[] bias0 = layer.router().selectionBias().toDoubleArray();
        layer.updateSelectionBias();
        double[] bias1 = layer.router().selectionBias().toDoubleArray();
        double mean = 16;
        for (int e = 0; e < 4; e++) assertThat(bias1[e] - bias0[e]).isCloseTo(0.02 * Math.signum(mean - load[e]), offset(1e-7));
        for (int step = 0; step < 60; step++) {
            layer.forward(x);
            layer.updateSelectionBias();
        }
        layer.forward(x);
        assertThat(layer.report().maxOverMeanLoad()).isLessThan(before / 2);
    }

    @Test
    void trainAndEvalModes() {
        MoeLayer layer = new MoeLayer(small(RouterKind.NOISY_TOPK).dtype(DType.F32));
        Tensor x = TestData.randn(new Generator(5), DType.F32, 1, 30, 4);
        layer.eval();
        assertThat(layer.forward(x).toDoubleArray()).containsExactly(layer.forward(x).toDoubleArray());
        layer.train();
        assertThat(layer.router().isTraining()).isTrue();
        assertThat(layer.forward(x).toDoubleArray()).isNotEqualTo(layer.forward(x).toDoubleArray());
    }

    @Test
    void huggingFaceParameterNames() {
        MoeLayer qwen = new MoeLayer(small(RouterKind.SOFTMAX_TOPK).sharedExpert(3, true));
        assertThat(qwen.namedParameters().keySet()).containsExactly("gate.weight", "experts.gate_up_proj", "experts.down_proj",
                "shared_expert.gate_proj.weight", "shared_expert.up_proj.weight", "shared_expert.down_proj.weight", "shared_expert_gate.weight");
        assertThat(qwen.experts().upProjection().shape()).containsExactly(4, 6, 4);
        assertThat(qwen.experts().downProjection().shape()).containsExactly(4, 4, 3);
        MoeLayer deepseek = new MoeLayer(small(RouterKind.DEEPSEEK_V3).sharedExpert(3, false));
        assertThat(deepseek.namedBuffers().keySet()).containsExactly("gate.e_score_correction_bias");
        assertThat(deepseek.namedParameters().keySet()).contains("shared_experts.down_proj.weight");
        MoeLayer sw = new MoeLayer(small(RouterKind.SWITCH).activation(ExpertActivation.RELU, false));
        assertThat(sw.namedParameters().keySet()).containsExactly("router.classifier.weight", "experts.up_proj", "experts.down_proj");
    }

    @Test
    void paddedExpertLayout() {
        MoeLayer layer = new MoeLayer(small(RouterKind.SOFTMAX_TOPK));
        Tensor x = TestData.randn(new Generator(9), DType.F64, 1, 4, 2, 4);
        Tensor y = layer.experts().forward(x);
        assertThat(y.shape()).containsExactly(4, 2, 4);
        int[] offsets = {0, 2, 4, 6, 8};
        assertThat(layer.experts().forward(x.reshape(8, 4), offsets).toDoubleArray()).containsExactly(y.toDoubleArray());
    }

    @Test
    void emptyBatchesAndASingleExpert() {
        MoeLayer layer = new MoeLayer(new MoeOptions().hiddenSize(6).intermediateSize(4).experts(3).topK(2).sharedExpert(4, true)
                .balancing(Balancing.auxLoss(0.1).withZLoss(0.1)));
        Tensor empty = Tensor.zeros(DType.F32, 0, 6).setRequiresGrad(true);
        Tensor y = layer.forward(empty);
        assertThat(y.shape()).containsExactly(0, 6);
        assertThat(layer.lastLoad()).containsExactly(0, 0, 0);
        assertThat(layer.auxLoss().item()).isZero();
        MoeLayer one = new MoeLayer(new MoeOptions().hiddenSize(6).intermediateSize(4).experts(1).topK(1).dtype(DType.F64).initStd(0.5, 0.5));
        Tensor x = TestData.param(new Generator(1), 1, 5, 6);
        List<Tensor> inputs = new ArrayList<>(List.of(x));
        inputs.addAll(one.parameters());
        assertThat(GradCheck.check(in -> one.forward(in[0]), inputs.toArray(new Tensor[0])).passed()).isTrue();
        assertThat(one.lastRouting().weights().toDoubleArray()).containsOnly(1.0);
    }

    @Test
    void badOptionsAndInputs() {
        assertThatThrownBy(() -> new MoeLayer(new MoeOptions().experts(0))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E must be >= 1");
        assertThatThrownBy(() -> new MoeLayer(new MoeOptions().experts(4).topK(5))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("k = 5 exceeds");
        assertThatThrownBy(() -> new MoeLayer(new MoeOptions().capacityFactor(-0.5))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("capacity factor must be >= 0");
        assertThatThrownBy(() -> new MoeLayer(new MoeOptions().router(RouterKind.SWITCH).topK(2))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("top-1");
        assertThatThrownBy(() -> new MoeLayer(new MoeOptions().router(RouterKind.NOISY_TOPK).balancing(Balancing.lossFree(0.01))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("selection bias");
        assertThatThrownBy(() -> new Balancing(-1, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ExpertActivation.fromHuggingFace("tanh")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unsupported activation 'tanh'");
        MoeLayer layer = new MoeLayer(new MoeOptions().hiddenSize(8));
        assertThatThrownBy(() -> layer.forward(Tensor.zeros(3, 7))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("d = 8");
        assertThatThrownBy(layer::report).isInstanceOf(IllegalStateException.class);
        MoeLayer hash = new MoeLayer(new MoeOptions().router(RouterKind.HASH).topK(1));
        assertThatThrownBy(() -> hash.forward(Tensor.zeros(2, 32))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token ids");
        Tensor nan = Tensor.zeros(4, 32);
        nan.set(Double.NaN, 2, 5);
        assertThatThrownBy(() -> new MoeLayer(new MoeOptions()).forward(nan)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token 2");
        assertThat(new MoeLayer(new MoeOptions().failOnNaN(false)).forward(nan).shape()).containsExactly(4, 32);
        assertThat(layer.router()).isInstanceOf(SoftmaxTopKRouter.class);
    }
}
