package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ExpertLoraTest {

    private static MoeOptions options(DType dtype, boolean gated) {
        return new MoeOptions().hiddenSize(10).intermediateSize(7).experts(5).topK(2).dtype(dtype).seed(3)
                .activation(gated ? ExpertActivation.SILU : ExpertActivation.GELU, gated).initStd(0.3, 0.3);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void adaptedExpertsEqualExpertsWithUpdatedWeights(boolean gated) {
        MoeLayer layer = new MoeLayer(options(DType.F64, gated));
        ExpertLora lora = ExpertLora.attach(layer, AdapterSpec.of(3, 6).withInit(LoraInit.RANDOM), new Generator(4));
        Tensor x = Tensor.randn(new Generator(5), DType.F64, 2, 9, 10);
        Tensor got = layer.forward(x);

        // the same layer built again, with W_e + s B_e A_e written into its expert weights
        MoeLayer ref = new MoeLayer(options(DType.F64, gated));
        double s = lora.spec().scaling();
        try (NoGrad n = NoGrad.enter()) {
            ref.experts().upProjection().addInPlace(lora.up().b().matmul(lora.up().a()), s);
            ref.experts().downProjection().addInPlace(lora.down().b().matmul(lora.down().a()), s);
        }
        close(got, ref.forward(x), Checks.F64, "adapted experts");
        assertThat(Checks.relErr(got, new MoeLayer(options(DType.F64, gated)).forward(x))).isGreaterThan(1e-3);
    }

    @Test
    void defaultInitLeavesTheLayerUnchangedAndFreezesIt() {
        MoeLayer layer = new MoeLayer(options(DType.F32, true));
        Tensor x = Tensor.randn(new Generator(5), DType.F32, 7, 10);
        Tensor before = layer.forward(x);
        ExpertLora lora = ExpertLora.attach(layer, AdapterSpec.of(4, 8), new Generator(4));
        assertThat(layer.forward(x).toFloatArray()).isEqualTo(before.toFloatArray());
        for (Tensor t : layer.parameters()) assertThat(t.requiresGrad()).isFalse();
        assertThat(lora.trainableParameters().keySet()).containsExactly("gate_up_proj.lora_A", "gate_up_proj.lora_B",
                "down_proj.lora_A", "down_proj.lora_B");
        assertThat(lora.up().a().shape()).containsExactly(5, 4, 10);
        assertThat(lora.up().b().shape()).containsExactly(5, 14, 4);
        assertThat(lora.down().a().shape()).containsExactly(5, 4, 7);
        assertThat(lora.down().b().shape()).containsExactly(5, 10, 4);
    }

    @Test
    void gradientsPassGradCheck() {
        MoeOptions o = new MoeOptions().hiddenSize(4).intermediateSize(3).experts(3).topK(2).dtype(DType.F64).seed(1).initStd(0.5, 0.5);
        MoeLayer layer = new MoeLayer(o);
        ExpertLora lora = ExpertLora.attach(layer, AdapterSpec.of(2, 3).withRslora(true).withInit(LoraInit.RANDOM), new Generator(2));
        Tensor x = Tensor.randn(new Generator(3), DType.F64, 5, 4).setRequiresGrad(true);
        GradCheck.assertGradients(in -> layer.forward(in[0]), x, lora.up().a(), lora.up().b(), lora.down().a(), lora.down().b());
    }

    @Test
    void mergeUnmergeAndDisable() {
        MoeLayer layer = new MoeLayer(options(DType.F32, true));
        Tensor w0 = layer.experts().upProjection().copy();
        ExpertLora lora = ExpertLora.attach(layer, AdapterSpec.of(3, 6).withInit(LoraInit.RANDOM), new Generator(4));
        Tensor x = Tensor.randn(new Generator(5), DType.F32, 11, 10);
        Tensor adapted = layer.forward(x);
        lora.merge();
        close(layer.forward(x), adapted, Checks.F32, "merged");
        lora.unmerge();
        close(layer.experts().upProjection(), w0, 1e-6, "unmerged weight");
        lora.setEnabled(false);
        close(layer.forward(x), new MoeLayer(options(DType.F32, true)).forward(x), Checks.F32, "disabled");
        lora.setEnabled(true);
        lora.unwrap();
        assertThat(layer.experts().forwardOverride()).isNull();
    }

    @Test
    void onlyTheAdaptersTrain() {
        MoeLayer layer = new MoeLayer(options(DType.F32, true));
        ExpertLora lora = ExpertLora.attach(layer, AdapterSpec.of(4, 8), new Generator(4));
        Tensor x = Tensor.randn(new Generator(5), DType.F32, 32, 10);
        Tensor target = Tensor.randn(new Generator(6), DType.F32, 32, 10).mul(0.3);
        Tensor router0 = layer.parameters().get(0).copy();
        Adam opt = new Adam(java.util.List.copyOf(lora.trainableParameters().values()), 3e-2);
        double first = 0, last = 0;
        for (int step = 0; step < 40; step++) {
            opt.zeroGrad();
            Tensor loss = F.mseLoss(layer.forward(x), target);
            if (step == 0) first = loss.item();
            last = loss.item();
            Autograd.backward(loss);
            opt.step();
        }
        assertThat(last).isLessThan(0.8 * first);
        assertThat(layer.parameters().get(0).toFloatArray()).isEqualTo(router0.toFloatArray());
    }

    @Test
    void badInput() {
        MoeLayer layer = new MoeLayer(options(DType.F32, true));
        assertThatThrownBy(() -> ExpertLora.attach(layer, AdapterSpec.of(8, 8), new Generator(1))).hasMessageContaining("min(d, f) = min(10, 7)");
        assertThatThrownBy(() -> ExpertLora.attach(layer, AdapterSpec.of(2, 8).withDora(true), new Generator(1))).hasMessageContaining("DoRA");
        assertThat(layer.experts().forwardOverride()).isNull();
        for (Tensor t : layer.parameters()) assertThat(t.requiresGrad()).isTrue();
        ExpertLora.attach(layer, AdapterSpec.of(2, 8), new Generator(1));
        assertThatThrownBy(() -> ExpertLora.attach(layer, AdapterSpec.of(2, 8), new Generator(1))).hasMessageContaining("already have a forward override");
    }
}
