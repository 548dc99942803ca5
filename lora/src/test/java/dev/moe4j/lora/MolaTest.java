package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MolaTest {
    private static final LoraMixtureModel.MixtureFactory MIXLORA = (base, n, spec, gen) -> new MixLoraLinear(base, n, Math.min(2, n), spec, gen);

    @Test
    void allocationByLayerGroupsPerLayerAndPattern() {
        ExpertAllocation triangle = ExpertAllocation.groups(8, 2, 4, 6, 8);
        int[] want = {2, 2, 4, 4, 6, 6, 8, 8};
        for (int i = 0; i < 8; i++) assertThat(triangle.expertsFor("model.layers." + i + ".self_attn.q_proj")).as("layer " + i).isEqualTo(want[i]);
        ExpertAllocation uneven = ExpertAllocation.groups(5, 1, 3);
        assertThat(new int[] {uneven.expertsFor("l.0.x"), uneven.expertsFor("l.2.x"), uneven.expertsFor("l.3.x"), uneven.expertsFor("l.4.x")})
                .containsExactly(1, 1, 3, 3);
        assertThat(ExpertAllocation.perLayer(3, 1).expertsFor("layers.1.v_proj")).isEqualTo(1);
        assertThat(ExpertAllocation.uniform(5).expertsFor("lm_head")).isEqualTo(5);
        ExpertAllocation withPattern = triangle.withPattern("v_proj", 3).withPattern("layers\\.7\\..*", 1);
        assertThat(withPattern.expertsFor("layers.7.v_proj")).isEqualTo(3);
        assertThat(withPattern.expertsFor("layers.7.q_proj")).isEqualTo(1);
        assertThat(withPattern.expertsFor("layers.6.q_proj")).isEqualTo(8);
        assertThat(ExpertAllocation.layerIndex("model.layers.12.mlp.up_proj")).isEqualTo(12);
        assertThat(ExpertAllocation.layerIndex("lm_head")).isEqualTo(-1);
        assertThatThrownBy(() -> triangle.expertsFor("layers.8.q_proj")).hasMessageContaining("layer 8");
        assertThatThrownBy(() -> triangle.expertsFor("lm_head")).hasMessageContaining("no layer index");
        assertThatThrownBy(() -> ExpertAllocation.groups(3, 1, 2, 3, 4)).hasMessageContaining("4 groups");
        assertThatThrownBy(() -> ExpertAllocation.perLayer(2, 0)).hasMessageContaining("N >= 1");
    }

    @Test
    void higherLayersGetMoreExperts() {
        ToyModel model = new ToyModel(4, 6, 8, 5, DType.F32, 1);
        Tensor x = Tensor.randn(new Generator(2), DType.F32, 16, 6);
        Tensor before = model.forward(x).copy();
        LoraMixtureModel mola = LoraMixtureModel.attach(model, ModulePattern.names("q_proj", "v_proj"), AdapterSpec.of(2, 4),
                ExpertAllocation.groups(4, 2, 4, 6, 8), MIXLORA, new Generator(3));
        Map<String, Integer> counts = mola.expertCounts();
        assertThat(counts).containsEntry("layers.0.q_proj", 2).containsEntry("layers.1.v_proj", 4)
                .containsEntry("layers.2.q_proj", 6).containsEntry("layers.3.v_proj", 8).hasSize(8);
        assertThat(mola.totalExperts()).isEqualTo(2 * (2 + 4 + 6 + 8));
        assertThat(mola.layers().get("layers.3.q_proj").experts().a().shape()).containsExactly(8, 2, 6);
        Checks.close(mola.forward(x), before, Checks.F32, "B = 0 at start: the model is unchanged");
        assertThat(mola.auxLoss()).isNotNull();
        List<Tensor> params = mola.trainableParameters();
        assertThat(params).doesNotContain(model.lmHead.weight());
        assertThat(model.lmHead.weight().requiresGrad()).isFalse();

        Tensor target = Tensor.randn(new Generator(4), DType.F32, 16, 5);
        Adam opt = new Adam(params, 1e-2);
        double first = 0, last = 0;
        for (int step = 0; step < 30; step++) {
            opt.zeroGrad();
            Tensor loss = F.add(F.mseLoss(mola.forward(x), target), F.mul(mola.auxLoss(), 1e-3));
            if (step == 0) first = loss.item();
            last = loss.item();
            Autograd.backward(loss);
            opt.step();
        }
        assertThat(last).isLessThan(first);
        mola.unload();
        assertThat(model.layers.blocks.get(0).qProj.forwardOverride()).isNull();
    }

    @Test
    void everyProblemIsReportedBeforeTheModelChanges() {
        ToyModel model = new ToyModel(3, 6, 8, 5, DType.F32, 1);
        assertThatThrownBy(() -> LoraMixtureModel.attach(model, ModulePattern.names("q_proj", "mlp", "k_proj"), AdapterSpec.of(2, 4),
                ExpertAllocation.perLayer(2, 2), MIXLORA, new Generator(3)))
                .hasMessageContaining("[k_proj] match no module")
                .hasMessageContaining("'layers.0.mlp' is a Sequential")
                .hasMessageContaining("layer 2, but expert counts are given for 2 layers");
        assertThat(model.layers.blocks.get(0).qProj.forwardOverride()).isNull();
        assertThat(model.layers.blocks.get(0).qProj.weight().requiresGrad()).isTrue();

        LoraMixtureModel.MixtureFactory failing = (base, n, spec, gen) -> {
            if (n == 3) throw new IllegalArgumentException("no room for three");
            return new MixLoraLinear(base, n, 1, spec, gen);
        };
        assertThatThrownBy(() -> LoraMixtureModel.attach(model, ModulePattern.names("q_proj"), AdapterSpec.of(2, 4),
                ExpertAllocation.perLayer(1, 2, 3), failing, new Generator(3)))
                .hasMessageContaining("'layers.2.q_proj' with N = 3").hasMessageContaining("no room for three");
        for (ToyModel.Block b : model.layers.blocks) {
            assertThat(b.qProj.forwardOverride()).isNull();
            assertThat(b.qProj.weight().requiresGrad()).isTrue();
        }
    }
}
