package dev.moe4j.bench.insight;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.lora.AdapterSpec;
import dev.moe4j.lora.ExpertLora;
import dev.moe4j.lora.LoraInit;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The staged pass against one forward and one backward of the layer itself. */
class StagedPassTest {

    static Stream<Arguments> layers() {
        return Stream.of(
                Arguments.of("softmax top-2, capacity 1.0, aux loss", (Supplier<MoeOptions>) () -> base(6, 2)
                        .capacityFactor(1.0).balancing(Balancing.auxLoss(0.01)), new int[] {13, 8}, DType.F32),
                Arguments.of("softmax top-2 on [B, S, d], aux + z", (Supplier<MoeOptions>) () -> base(5, 2)
                        .balancing(Balancing.auxLoss(0.02).withZLoss(0.001)), new int[] {3, 5, 8}, DType.F32),
                Arguments.of("switch, capacity 1.25, z-loss", (Supplier<MoeOptions>) () -> base(4, 1).router(RouterKind.SWITCH)
                        .capacityFactor(1.25).balancing(Balancing.none().withZLoss(0.01)), new int[] {11, 8}, DType.F32),
                Arguments.of("deepseek, groups 2/1, sequence aux", (Supplier<MoeOptions>) () -> base(8, 2).router(RouterKind.DEEPSEEK_V3)
                        .groups(2, 1).balancing(Balancing.none().withSequenceAux(0.01)), new int[] {2, 6, 8}, DType.F32),
                Arguments.of("expert choice", (Supplier<MoeOptions>) () -> base(4, 1).router(RouterKind.EXPERT_CHOICE)
                        .capacityFactor(1.0), new int[] {9, 8}, DType.F32),
                Arguments.of("hash", (Supplier<MoeOptions>) () -> base(4, 1).router(RouterKind.HASH), new int[] {7, 8}, DType.F32),
                Arguments.of("top-p", (Supplier<MoeOptions>) () -> base(5, 3).router(RouterKind.TOP_P).topP(0.4), new int[] {10, 8}, DType.F32),
                Arguments.of("null experts", (Supplier<MoeOptions>) () -> base(4, 2).router(RouterKind.NULL_EXPERTS).nullExperts(2),
                        new int[] {10, 8}, DType.F32),
                Arguments.of("noisy top-2 (eval)", (Supplier<MoeOptions>) () -> base(4, 2).router(RouterKind.NOISY_TOPK), new int[] {6, 8}, DType.F32),
                Arguments.of("gated shared expert, loss-free bias", (Supplier<MoeOptions>) () -> base(4, 2).sharedExpert(12, true)
                        .balancing(Balancing.lossFree(0.01)).selectionBias(true), new int[] {9, 8}, DType.F32),
                Arguments.of("float64, capacity 0.5, aux", (Supplier<MoeOptions>) () -> base(3, 2).dtype(DType.F64)
                        .capacityFactor(0.5).balancing(Balancing.auxLoss(0.05)), new int[] {8, 8}, DType.F64));
    }

    static MoeOptions base(int experts, int k) {
        return new MoeOptions().hiddenSize(8).intermediateSize(10).experts(experts).topK(k).seed(7).initStd(0.35, 0.35);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layers")
    void matchesTheLayersForwardAndBackward(String name, Supplier<MoeOptions> options, int[] shape, DType dtype) {
        MoeLayer layer = new MoeLayer(options.get());
        layer.eval();
        Generator g = new Generator(shape.length * 31L + shape[0]);
        Tensor x = Tensor.randn(g, dtype, shape);
        Tensor dy = Tensor.randn(g, dtype, shape);
        int T = x.numel() / 8;
        long[] ids = new long[T];
        for (int t = 0; t < T; t++) ids[t] = g.nextInt(100);

        Tensor xr = x.detach().setRequiresGrad(true);
        Tensor y = layer.forward(xr, ids);
        Autograd.backward(F.add(F.sum(F.mul(y, dy)), layer.auxLoss()));
        Map<String, double[]> want = new LinkedHashMap<>();
        layer.namedParameters().forEach((n, p) -> want.put(n, p.grad() == null ? null : p.grad().toDoubleArray()));
        double[] wantDx = xr.grad().toDoubleArray();

        StagedPass pass = StagedPass.forward(layer, x, ids);
        double tol = dtype == DType.F64 ? 1e-12 : 2e-6;
        assertThat(pass.output().shape()).isEqualTo(shape);
        assertThat(relErr(pass.output().toDoubleArray(), y.toDoubleArray())).isLessThan(tol);
        assertThat(pass.routing().plan().counts()).isEqualTo(layer.lastRouting().plan().counts());
        pass.backward(dy);
        assertThat(relErr(pass.inputGrad().toDoubleArray(), wantDx)).as("dx").isLessThan(tol);
        layer.namedParameters().forEach((n, p) -> {
            double[] w = want.get(n);
            if (w == null) assertThat(p.grad()).as(n).isNull();
            else assertThat(relErr(p.grad().toDoubleArray(), w)).as("d " + n).isLessThan(tol);
        });

        String text = pass.toString();
        assertThat(text).contains("1. router", "2a. histogram", "2b. permutation", "2c. ", "3. grouped GEMM", "4. combine", "5. balance",
                "6. backward", "stage times");
        assertThat(pass.times().stages()).extracting(StageTimes.StageTime::stage).contains("permute", "combine", "grouped GEMM up");
        for (int t = 0; t < T; t++) assertThat(pass.follow(t).toString()).contains("token " + t + " through");
    }

    @Test
    void withLoraOnTheExpertsMatchesTheLayerAndOnlyTheAdaptersGetGradients() {
        MoeLayer layer = new MoeLayer(base(5, 2).capacityFactor(1.0).balancing(Balancing.auxLoss(0.01)));
        layer.eval();
        // random B, so that the adapters change the output and A gets a non-zero gradient
        ExpertLora lora = ExpertLora.attach(layer, AdapterSpec.of(3, 6).withInit(LoraInit.RANDOM), new Generator(11));
        Generator g = new Generator(21);
        Tensor x = Tensor.randn(g, DType.F32, 11, 8);
        Tensor dy = Tensor.randn(g, DType.F32, 11, 8);

        Tensor xr = x.detach().setRequiresGrad(true);
        Tensor y = layer.forward(xr, null);
        Autograd.backward(F.add(F.sum(F.mul(y, dy)), layer.auxLoss()));
        Map<String, double[]> want = new LinkedHashMap<>();
        lora.namedParameters().forEach((n, p) -> want.put(n, p.grad().toDoubleArray()));
        double[] wantDx = xr.grad().toDoubleArray();
        lora.setEnabled(false);
        double[] frozenY = layer.forward(x, null).toDoubleArray();
        lora.setEnabled(true);
        assertThat(relErr(y.toDoubleArray(), frozenY)).as("the adapters change the output").isGreaterThan(1e-3);
        for (Tensor p : lora.parameters()) p.setGrad(null);

        StagedPass pass = StagedPass.forward(layer, x, null);
        assertThat(pass.expertsOverridden()).isTrue();
        assertThat(relErr(pass.output().toDoubleArray(), y.toDoubleArray())).isLessThan(2e-6);
        pass.backward(dy);
        assertThat(relErr(pass.inputGrad().toDoubleArray(), wantDx)).as("dx").isLessThan(2e-6);
        lora.namedParameters().forEach((n, p) -> assertThat(relErr(p.grad().toDoubleArray(), want.get(n))).as("d " + n).isLessThan(2e-6));
        assertThat(layer.experts().upProjection().grad()).isNull();
        assertThat(layer.experts().downProjection().grad()).isNull();
        assertThat(Fmt.norm(lora.up().a().grad().toDoubleArray(), 0, lora.up().a().numel())).isGreaterThan(0);

        LoraView view = new LoraView(lora, pass.routing().plan().counts());
        assertThat(view.onlyAdaptersHaveGradients()).isTrue();
        assertThat(view.gradients().toString()).contains("check: the frozen expert weights' grad is null");
        int[] counts = pass.routing().plan().counts();
        for (int e = 0; e < counts.length; e++) {
            long m = counts[e];
            // gated experts: U = 2f = 20, d = 8, f = 10, r = 3
            assertThat(view.adapterFlops(e)).isEqualTo(2 * m * (8 * 3 + 3 * 20) + 2 * m * (10 * 3 + 3 * 8));
            assertThat(view.frozenFlops(e)).isEqualTo(pass.gemm().problems().get(e).flops());
        }
        assertThat(pass.toString()).contains("forward override", StagedPass.EXPERTS_OVERRIDE);
        assertThat(pass.backwardSteps().steps()).extracting(BackwardView.Step::stage).startsWith("combine", StagedPass.EXPERTS_OVERRIDE, "permute");
        for (int t = 0; t < 11; t++) assertThat(pass.follow(t).toString()).contains("token " + t + " through");
    }

    @Test
    void backwardStagesRunInReverseOrderAndOnlyOnce() {
        MoeLayer layer = new MoeLayer(base(4, 2).balancing(Balancing.auxLoss(0.01)));
        Tensor x = Tensor.randn(new Generator(3), DType.F32, 6, 8);
        StagedPass pass = StagedPass.forward(layer, x, null);
        assertThatThrownBy(pass::backwardSteps).isInstanceOf(IllegalStateException.class);
        assertThat(pass.follow(0).toString()).contains("not run yet");
        pass.backwardRandom(5);
        assertThat(pass.backwardSteps().steps()).extracting(BackwardView.Step::stage)
                .containsExactly("combine", "grouped GEMM down", "activation", "grouped GEMM up", "permute", "balance losses", StagedPass.ROUTER);
        assertThatThrownBy(() -> pass.backwardRandom(5)).isInstanceOf(IllegalStateException.class);
        assertThat(pass.follow(2).toString()).contains("dx[2] total", "dyPerm[");
    }

    @Test
    void rejectsBadInputBeforeAnyWork() {
        MoeLayer layer = new MoeLayer(base(4, 2));
        assertThatThrownBy(() -> StagedPass.forward(layer, Tensor.zeros(DType.F32, 3, 7), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("d = 8").hasMessageContaining("[3, 7]");
        StagedPass pass = StagedPass.forward(layer, Tensor.randn(new Generator(1), DType.F32, 3, 8), null);
        assertThatThrownBy(() -> pass.backward(Tensor.zeros(DType.F32, 4, 8))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[3, 8]");
        assertThatThrownBy(() -> pass.follow(3)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("0..2");
        try (var scope = dev.moe4j.autograd.NoGrad.enter()) {
            assertThatThrownBy(() -> StagedPass.forward(layer, Tensor.randn(new Generator(1), DType.F32, 3, 8), null))
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void timedPassRecordsEveryForwardAndBackwardStage() {
        MoeLayer layer = new MoeLayer(base(4, 2).sharedExpert(6, false).balancing(Balancing.auxLoss(0.01)));
        Tensor x = Tensor.randn(new Generator(2), DType.F32, 10, 8);
        StageTimes times = StagedPass.timed(layer, x, null, Tensor.randn(new Generator(4), DType.F32, 10, 8));
        assertThat(times.passes()).isEqualTo(1);
        assertThat(times.stages()).filteredOn(StageTimes.StageTime::backward).extracting(StageTimes.StageTime::stage)
                .contains("combine", "permute", StagedPass.ROUTER, "shared expert", "balance losses");
        assertThat(times.stages()).allSatisfy(s -> assertThat(s.nanos()).isPositive());
    }

    static double relErr(double[] got, double[] want) {
        assertThat(got).hasSameSizeAs(want);
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }
}
