package dev.moe4j.moe;

import dev.moe4j.autograd.GradCheck;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cpu.moe.GroupScore;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.kernels.cpu.moe.ScoreFunction;
import dev.moe4j.moe.ops.CombineExperts;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.ops.ExpertActivationFunction;
import dev.moe4j.moe.ops.Gate;
import dev.moe4j.moe.ops.GroupedLinear;
import dev.moe4j.moe.ops.LoadBalancingLoss;
import dev.moe4j.moe.ops.PermuteTokens;
import dev.moe4j.moe.ops.RouterZLoss;
import dev.moe4j.moe.ops.SequenceBalanceLoss;
import dev.moe4j.moe.ops.Softplus;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every differentiable MoE function against float64 central differences ({@link GradCheck}), and its
 * float32 path (the fast kernels) against its float64 path.
 */
class OpsGradCheckTest {
    private final Generator g = new Generator(11);

    private static void check(Function<Tensor[], Tensor> f, Tensor... inputs) {
        GradCheck.Result r = GradCheck.check(f, inputs);
        assertThat(r.passed()).as(r.worst() + " (max abs error " + r.maxAbsError() + ")").isTrue();
        assertThat(r.checked()).isPositive();
    }

    /** The F32 forward and input gradients agree with the F64 ones within float precision. */
    private static void f32MatchesF64(Function<Tensor[], Tensor> f, Tensor... f64Inputs) {
        Tensor[] f32 = new Tensor[f64Inputs.length];
        for (int i = 0; i < f32.length; i++) {
            f32[i] = f64Inputs[i].detach().to(DType.F32).copy().setRequiresGrad(f64Inputs[i].requiresGrad());
        }
        Tensor y64 = f.apply(f64Inputs), y32 = f.apply(f32);
        assertThat(y32.dtype()).isEqualTo(DType.F32);
        assertClose(y32.toDoubleArray(), y64.toDoubleArray(), 2e-5);
        Tensor v = TestData.randn(new Generator(5), DType.F64, 1, y64.shape());
        Tensor[] g64 = dev.moe4j.autograd.Autograd.grad(y64, v, false, requiring(f64Inputs));
        Tensor[] g32 = dev.moe4j.autograd.Autograd.grad(y32, v.to(DType.F32), false, requiring(f32));
        for (int i = 0; i < g64.length; i++) assertClose(g32[i].toDoubleArray(), g64[i].toDoubleArray(), 2e-5);
    }

    private static Tensor[] requiring(Tensor[] in) {
        return java.util.Arrays.stream(in).filter(Tensor::requiresGrad).toArray(Tensor[]::new);
    }

    private static void assertClose(double[] got, double[] want, double rel) {
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        assertThat(Math.sqrt(num)).isLessThanOrEqualTo(rel * Math.sqrt(den) + 1e-6);
    }

    @Test
    void gateSoftmaxRenormalised() {
        Tensor logits = TestData.param(g, 1.5, 7, 6);
        check(in -> new Gate(GatingConfig.mixtral(2), null).apply(in[0]), logits);
        f32MatchesF64(in -> new Gate(GatingConfig.mixtral(2), null).apply(in[0]), logits);
    }

    @Test
    void gateSoftmaxPlainWithSelectionBias() {
        Tensor logits = TestData.param(g, 1.5, 5, 8);
        double[] bias = {0.1, -0.2, 0.05, 0, 0.3, -0.1, 0.2, 0};
        check(in -> new Gate(GatingConfig.softmaxTopK(3, false), bias).apply(in[0]), logits);
        f32MatchesF64(in -> new Gate(GatingConfig.softmaxTopK(3, false), bias).apply(in[0]), logits);
    }

    @Test
    void gateSigmoidGroupLimitedScaled() {
        Tensor logits = TestData.param(g, 2, 6, 8);
        double[] bias = {0.05, -0.02, 0.1, 0, -0.1, 0.03, 0.02, -0.04};
        GatingConfig c = GatingConfig.deepseekV3(3, 4, 2, true, 2.5f);
        check(in -> new Gate(c, bias).apply(in[0]), logits);
        f32MatchesF64(in -> new Gate(c, bias).apply(in[0]), logits);
        GatingConfig max = new GatingConfig(ScoreFunction.SIGMOID, 2, 4, 2, GroupScore.MAX, Float.NEGATIVE_INFINITY, false, 0f, 1f, true);
        check(in -> new Gate(max, null).apply(in[0]), logits);
    }

    @Test
    void gateExposesIdsCountsAndScores() {
        Tensor logits = Tensor.of(new double[] {0, 1, 2, 3, 3, 2, 1, 0}, 2, 4);
        Gate gate = new Gate(GatingConfig.mixtral(2), null);
        Tensor w = gate.apply(logits);
        assertThat(gate.ids()).containsExactly(3, 2, 0, 1);
        assertThat(gate.counts()).containsExactly(1, 1, 1, 1);
        assertThat(gate.scores().shape()).containsExactly(2, 4);
        double e = Math.exp(1);
        assertThat(w.toDoubleArray()).containsExactly(new double[] {e / (1 + e), 1 / (1 + e), e / (1 + e), 1 / (1 + e)},
                org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void permuteWithDroppedPairsAndEmptyExpert() {
        RoutingPlan plan = TestData.planWithDrops(g, 9, 2, 5, 3);
        assertThat(plan.dropped()).isNotEmpty();
        assertThat(plan.counts()[4]).isZero();
        Tensor x = TestData.param(g, 1, 9, 4);
        check(in -> new PermuteTokens(plan).apply(in[0]), x);
        f32MatchesF64(in -> new PermuteTokens(plan).apply(in[0]), x);
    }

    @Test
    void combineWithDroppedPairs() {
        RoutingPlan plan = TestData.planWithDrops(g, 8, 3, 5, 4);
        Tensor y = TestData.param(g, 1, plan.numRows(), 5);
        Tensor w = TestData.param(g, 1, 8, 3);
        check(in -> new CombineExperts(plan).apply(in[0], in[1]), y, w);
        f32MatchesF64(in -> new CombineExperts(plan).apply(in[0], in[1]), y, w);
    }

    @Test
    void groupedLinearWithEmptyGroups() {
        int[] offsets = {0, 3, 3, 7, 8, 8};
        Tensor x = TestData.param(g, 1, 8, 5);
        Tensor w = TestData.param(g, 1, 5, 6, 5);
        check(in -> new GroupedLinear(offsets).apply(in[0], in[1]), x, w);
        f32MatchesF64(in -> new GroupedLinear(offsets).apply(in[0], in[1]), x, w);
        // an empty group gets a zero weight gradient
        Tensor[] grads = dev.moe4j.autograd.Autograd.grad(new GroupedLinear(offsets).apply(x, w), Tensor.ones(DType.F64, 8, 6), false, w);
        assertThat(grads[0].select(0, 1).toDoubleArray()).containsOnly(0.0);
    }

    @ParameterizedTest
    @EnumSource(ExpertActivation.class)
    void activationGatedAndPlain(ExpertActivation act) {
        Tensor h = TestData.param(g, 1.3, 6, 8);
        check(in -> new ExpertActivationFunction(act, true).apply(in[0]), h);
        check(in -> new ExpertActivationFunction(act, false).apply(in[0]), h);
        f32MatchesF64(in -> new ExpertActivationFunction(act, true).apply(in[0]), h);
    }

    @Test
    void activationValues() {
        assertThat(ExpertActivation.SILU.apply(1)).isCloseTo(1 / (1 + Math.exp(-1)), org.assertj.core.data.Offset.offset(1e-15));
        // erf(0.5) = 0.5204998778130465, erf(3) = 0.9999779095030014, erf(4.5) = 0.9999999998033839
        assertThat(ExpertActivation.GELU.apply(Math.sqrt(2) * 0.5)).isCloseTo(Math.sqrt(2) * 0.5 * 0.5 * (1 + 0.5204998778130465), org.assertj.core.data.Offset.offset(1e-14));
        assertThat(ExpertActivation.GELU.apply(Math.sqrt(2) * 3)).isCloseTo(Math.sqrt(2) * 3 * 0.5 * (1 + 0.9999779095030014), org.assertj.core.data.Offset.offset(1e-13));
        assertThat(ExpertActivation.GELU.apply(-Math.sqrt(2) * 4.5)).isCloseTo(-Math.sqrt(2) * 4.5 * 0.5 * (1 - 0.9999999998033839), org.assertj.core.data.Offset.offset(1e-14));
        assertThat(ExpertActivation.RELU.apply(-2)).isZero();
        assertThat(ExpertActivation.GELU_TANH.apply(1)).isCloseTo(0.8411919906082768, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void balanceLossesAndSoftplus() {
        int[] ids = TestData.ids(g, 12, 2, 5);
        Tensor probs = TestData.param(g, 1, 2, 6, 5);
        check(in -> new LoadBalancingLoss(ids, 2).apply(in[0]), probs);
        Tensor logits = TestData.param(g, 2, 3, 4, 5);
        check(in -> new RouterZLoss().apply(in[0]), logits);
        Tensor scores = Tensor.rand(g, DType.F64, 2, 6, 5).add(0.05).setRequiresGrad(true);
        check(in -> new SequenceBalanceLoss(ids, 2).apply(in[0]), scores);
        check(in -> new Softplus().apply(in[0]), TestData.param(g, 3, 4, 5));
    }
}
