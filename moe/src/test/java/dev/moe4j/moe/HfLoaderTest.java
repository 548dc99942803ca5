package dev.moe4j.moe;

import dev.moe4j.moe.hf.HfFamily;
import dev.moe4j.moe.hf.HfMoeBlock;
import dev.moe4j.moe.hf.HfMoeConfig;
import dev.moe4j.moe.hf.HfMoeLoader;
import dev.moe4j.moe.hf.HfParameter;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Config parsing, loading under Hugging Face names (fused and per expert), and the errors on bad files. */
class HfLoaderTest {
    @TempDir
    Path dir;

    static final String MIXTRAL = """
            {"model_type": "mixtral", "hidden_size": 8, "intermediate_size": 6, "num_local_experts": 4,
             "num_experts_per_tok": 2, "hidden_act": "silu", "router_jitter_noise": 0.0}""";
    static final String QWEN = """
            {"model_type": "qwen2_moe", "hidden_size": 8, "moe_intermediate_size": 5, "num_experts": 4, "num_experts_per_tok": 2,
             "norm_topk_prob": false, "shared_expert_intermediate_size": 7, "hidden_act": "silu"}""";
    static final String DEEPSEEK = """
            {"model_type": "deepseek_v3", "hidden_size": 8, "moe_intermediate_size": 5, "n_routed_experts": 8, "num_experts_per_tok": 3,
             "n_group": 4, "topk_group": 2, "norm_topk_prob": true, "routed_scaling_factor": 2.5, "n_shared_experts": 2, "hidden_act": "silu"}""";
    static final String SWITCH = """
            {"model_type": "switch_transformers", "d_model": 8, "d_ff": 6, "num_experts": 4, "expert_capacity": 1,
             "router_bias": false, "dense_act_fn": "relu", "router_jitter_noise": 0.0}""";

    @Test
    void parsesEachFamily() {
        HfMoeConfig m = HfMoeConfig.parse(MIXTRAL, null);
        assertThat(m.family()).isEqualTo(HfFamily.MIXTRAL);
        assertThat(m.numExperts()).isEqualTo(4);
        assertThat(m.normTopkProb()).isTrue();
        HfMoeConfig q = HfMoeConfig.parse(QWEN, null);
        assertThat(q.normTopkProb()).isFalse();
        assertThat(q.sharedIntermediateSize()).isEqualTo(7);
        assertThat(q.sharedExpertGate()).isTrue();
        HfMoeConfig d = HfMoeConfig.parse(DEEPSEEK, null);
        assertThat(d.sharedIntermediateSize()).isEqualTo(10);
        assertThat(d.nGroup()).isEqualTo(4);
        assertThat(d.routedScalingFactor()).isEqualTo(2.5);
        HfMoeConfig s = HfMoeConfig.parse(SWITCH, null);
        assertThat(s.topK()).isEqualTo(1);
        assertThat(s.activation()).isEqualTo(ExpertActivation.RELU);
        assertThat(s.gated()).isFalse();
        // the family may come from the block class when the JSON has no model_type
        assertThat(HfMoeConfig.parse(MIXTRAL.replace("\"model_type\": \"mixtral\",", ""), "MixtralSparseMoeBlock").family()).isEqualTo(HfFamily.MIXTRAL);
    }

    @Test
    void badConfigs() {
        assertThatThrownBy(() -> HfMoeConfig.parse(MIXTRAL.replace("\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 5"), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("num_experts_per_tok = 5 exceeds the number of experts 4");
        assertThatThrownBy(() -> HfMoeConfig.parse(MIXTRAL.replace("\"num_local_experts\": 4", "\"num_local_experts\": 0"), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("number of experts must be >= 1");
        assertThatThrownBy(() -> HfMoeConfig.parse(SWITCH.replace("\"expert_capacity\": 1", "\"expert_capacity\": -3"), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expert_capacity must be >= 0, got -3");
        assertThatThrownBy(() -> HfMoeConfig.parse(MIXTRAL.replace("\"silu\"", "\"mish\""), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unsupported activation 'mish'");
        assertThatThrownBy(() -> HfMoeConfig.parse(MIXTRAL.replace("\"intermediate_size\": 6,", ""), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lacks 'intermediate_size'");
        assertThatThrownBy(() -> HfMoeConfig.parse("{\"model_type\": \"llama\"}", null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unsupported MoE model 'llama'");
        assertThatThrownBy(() -> HfMoeConfig.parse("{not json", null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> HfMoeConfig.parse(DEEPSEEK.replace("\"n_group\": 4", "\"n_group\": 3"), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("n_group = 3");
    }

    /** A block of the config with distinct random weights and biases, wrapped under its Hugging Face names. */
    private static HfMoeBlock randomBlock(String config) {
        HfMoeConfig c = HfMoeConfig.parse(config, null);
        MoeLayer layer = HfMoeLoader.build(c, DType.F32);
        Generator g = new Generator(42);
        for (Tensor t : layer.parameters()) t.copyFrom(TestData.randn(g, DType.F32, 0.4, t.shape()));
        for (Tensor t : layer.namedBuffers().values()) t.copyFrom(TestData.randn(g, DType.F32, 0.05, t.shape()));
        return HfMoeLoader.wrap(c, layer);
    }

    private static double[] run(MoeLayer layer, Tensor x) {
        layer.eval();
        return layer.forward(x).toDoubleArray();
    }

    @Test
    void savedBlocksLoadBackUnderAModulePrefix() throws IOException {
        Tensor x = TestData.randn(new Generator(1), DType.F32, 1, 2, 5, 8);
        for (String config : new String[] {MIXTRAL, QWEN, DEEPSEEK, SWITCH}) {
            HfMoeBlock block = randomBlock(config);
            Path file = dir.resolve(block.config().family().modelType() + ".safetensors");
            block.save(file, "model.layers.3.mlp.");
            HfMoeBlock loaded = HfMoeLoader.load(file, null, "model.layers.3.mlp.", DType.F32);
            assertThat(loaded.config()).isEqualTo(block.config());
            assertThat(loaded.parameters().keySet()).isEqualTo(block.parameters().keySet());
            assertThat(run(loaded.layer(), x)).as(config).containsExactly(run(block.layer(), x));
        }
        HfMoeBlock sw = randomBlock(SWITCH);
        assertThat(sw.parameters().keySet()).contains("router.classifier.weight", "experts.expert_3.wi.weight", "experts.expert_0.wo.weight");
        assertThat(sw.parameter("experts.expert_3.wi.weight").value().toDoubleArray())
                .containsExactly(sw.layer().experts().upProjection().select(0, 3).toDoubleArray());
    }

    @Test
    void configFromAConfigJsonFile() throws IOException {
        HfMoeBlock block = randomBlock(QWEN);
        Path file = dir.resolve("weights.safetensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (HfParameter p : block.parameters().values()) tensors.put(p.name(), p.value().contiguous());
        SafetensorsWriter.save(file, tensors);
        Path json = dir.resolve("config.json");
        Files.writeString(json, QWEN);
        HfMoeBlock loaded = HfMoeLoader.load(file, json, "", DType.F64);
        assertThat(loaded.layer().experts().upProjection().dtype()).isEqualTo(DType.F64);
        Tensor x = TestData.randn(new Generator(2), DType.F32, 1, 6, 8);
        double[] want = run(block.layer(), x), got = run(loaded.layer(), x.to(DType.F64));
        for (int i = 0; i < want.length; i++) assertThat(got[i]).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-5));
        assertThatThrownBy(() -> HfMoeLoader.load(file, null, "", DType.F32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no 'config' metadata");
    }

    @Test
    void perExpertNamesOfOlderCheckpoints() throws IOException {
        for (String config : new String[] {MIXTRAL, DEEPSEEK}) {
            HfMoeBlock block = randomBlock(config);
            boolean mixtral = config == MIXTRAL;
            int E = block.config().numExperts(), f = block.config().intermediateSize();
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (HfParameter p : block.parameters().values()) {
                if (p.name().startsWith("experts.")) continue;
                tensors.put("p." + p.name(), p.value().contiguous());
            }
            Tensor up = block.layer().experts().upProjection(), down = block.layer().experts().downProjection();
            for (int e = 0; e < E; e++) {
                tensors.put("p.experts." + e + (mixtral ? ".w1" : ".gate_proj") + ".weight", up.select(0, e).narrow(0, 0, f).contiguous());
                tensors.put("p.experts." + e + (mixtral ? ".w3" : ".up_proj") + ".weight", up.select(0, e).narrow(0, f, f).contiguous());
                tensors.put("p.experts." + e + (mixtral ? ".w2" : ".down_proj") + ".weight", down.select(0, e).contiguous());
            }
            Path file = dir.resolve("legacy.safetensors");
            SafetensorsWriter.save(file, tensors, Map.of("config", block.config().toJson()));
            HfMoeBlock loaded = HfMoeLoader.load(file, null, "p.", DType.F32);
            Tensor x = TestData.randn(new Generator(3), DType.F32, 1, 7, 8);
            assertThat(run(loaded.layer(), x)).containsExactly(run(block.layer(), x));
            assertThat(loaded.parameters()).containsKey("experts.2." + (mixtral ? "w3" : "up_proj") + ".weight");
        }
    }

    @Test
    void weightsThatDoNotMatchTheConfig() throws IOException {
        HfMoeBlock block = randomBlock(MIXTRAL);
        Path file = dir.resolve("bad.safetensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (HfParameter p : block.parameters().values()) tensors.put(p.name(), p.value().contiguous());
        tensors.put("experts.down_proj", Tensor.zeros(4, 8, 5));
        tensors.remove("gate.weight");
        SafetensorsWriter.save(file, tensors, Map.of("config", MIXTRAL));
        assertThatThrownBy(() -> HfMoeLoader.load(file, null, "", DType.F32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing [gate.weight]")
                .hasMessageContaining("'experts.down_proj' has shape [4, 8, 5], the config (d=8, E=4, f=6) needs [4, 8, 6]");
        assertThatThrownBy(() -> HfMoeLoader.load(file, null, "", DType.I32)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void switchCapacityAsTransformersFiveAppliesIt() {
        // expert_capacity 1: every token is its own capacity group, so nothing is dropped however many share an expert
        HfMoeBlock block = randomBlock(SWITCH);
        Tensor x = TestData.randn(new Generator(4), DType.F32, 1, 40, 8);
        block.layer().forward(x);
        Routing r = block.layer().lastRouting();
        assertThat(java.util.Arrays.stream(r.load()).max().getAsInt()).isGreaterThan(1);
        assertThat(r.droppedPairs()).isZero();
        // expert_capacity 0 drops every token: the block outputs zeros
        HfMoeBlock none = randomBlock(SWITCH.replace("\"expert_capacity\": 1", "\"expert_capacity\": 0"));
        assertThat(none.layer().forward(x).toDoubleArray()).containsOnly(0.0);
        assertThat(none.layer().lastRouting().droppedPairs()).isEqualTo(40);
    }
}
