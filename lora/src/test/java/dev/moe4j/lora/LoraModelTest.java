package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.optim.AdamW;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;
import dev.moe4j.tensor.io.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LoraModelTest {
    private static final int D = 12, FF = 20, VOCAB = 9;

    private static ToyModel model(DType dtype) { return new ToyModel(2, D, FF, VOCAB, dtype, 42); }

    private static Tensor input(DType dtype) { return Tensor.randn(new Generator(7), dtype, 2, 5, D); }

    private static LoraConfig.Builder cfg() { return LoraConfig.builder().r(4).alpha(8).init(LoraInit.RANDOM); }

    /** Everything a failed call must leave alone: overrides, requiresGrad flags, weights. */
    private static void assertUntouched(ToyModel m, ToyModel fresh) {
        for (Map.Entry<String, dev.moe4j.autograd.nn.Module> e : LoraModel.modules(m).entrySet()) {
            if (e.getValue() instanceof Linear l) assertThat(l.forwardOverride()).as(e.getKey() + " override").isNull();
        }
        Map<String, Tensor> a = m.namedParameters(), b = fresh.namedParameters();
        assertThat(a.keySet()).isEqualTo(b.keySet());
        for (String k : a.keySet()) {
            assertThat(a.get(k).requiresGrad()).as(k + " requiresGrad").isTrue();
            assertThat(a.get(k).toFloatArray()).as(k).isEqualTo(b.get(k).toFloatArray());
        }
        Tensor x = input(DType.F32);
        assertThat(m.forward(x).toFloatArray()).isEqualTo(fresh.forward(x).toFloatArray());
    }

    @Test
    void targetsByNameMatchExactPathsAndDottedSuffixes() {
        ToyModel m = model(DType.F32);
        LoraModel lm = LoraModel.attach(m, cfg().targetModules("q_proj", "1.v_proj", "layers.0.mlp.2").build(), new Generator(1));
        assertThat(lm.layers().keySet()).containsExactly("layers.0.q_proj", "layers.0.mlp.2", "layers.1.q_proj", "layers.1.v_proj");
        assertThat(m.layers.blocks.get(0).qProj.forwardOverride()).isNotNull();
        assertThat(m.layers.blocks.get(0).vProj.forwardOverride()).isNull();
    }

    @Test
    void targetsByRegexAllLinearAndExclude() {
        LoraModel byRegex = LoraModel.attach(model(DType.F32), cfg().targetModulesRegex(".*\\.(q|v)_proj").build(), new Generator(1));
        assertThat(byRegex.layers().keySet()).containsExactly("layers.0.q_proj", "layers.0.v_proj", "layers.1.q_proj", "layers.1.v_proj");
        LoraModel all = LoraModel.attach(model(DType.F32), cfg().targetModulesRegex("all-linear").build(), new Generator(1));
        assertThat(all.layers()).hasSize(8).doesNotContainKey("lm_head");
        LoraModel excl = LoraModel.attach(model(DType.F32), cfg().targetModules(ModulePattern.allLinear())
                .excludeModules(ModulePattern.names("mlp.0", "mlp.2")).build(), new Generator(1));
        assertThat(excl.layers().keySet()).containsExactly("layers.0.q_proj", "layers.0.v_proj", "layers.1.q_proj", "layers.1.v_proj");
    }

    @Test
    void rankAndAlphaPatternsAsPeft() {
        LoraConfig c = cfg().targetModulesRegex(".*_proj").rankPattern("q_proj", 2).rankPattern("layers\\.1\\.v_proj", 3)
                .alphaPattern("v_proj", 1.5).build();
        LoraModel lm = LoraModel.attach(model(DType.F32), c, new Generator(1));
        assertThat(lm.layers().get("layers.0.q_proj").adapter("default").r()).isEqualTo(2);
        assertThat(lm.layers().get("layers.0.v_proj").adapter("default").r()).isEqualTo(4);
        assertThat(lm.layers().get("layers.1.v_proj").adapter("default").r()).isEqualTo(3);
        assertThat(lm.layers().get("layers.1.v_proj").adapter("default").spec().alpha()).isEqualTo(1.5);
        assertThat(lm.layers().get("layers.1.q_proj").adapter("default").spec().alpha()).isEqualTo(8);
        // a key matches a whole dotted component, not a partial name
        assertThat(LoraConfig.patternKey(Map.of("proj", 1), "layers.0.q_proj")).isNull();
    }

    @Test
    void attachedModelComputesTheAdaptedLayersAndTrainsOnlyAdapters() {
        ToyModel m = model(DType.F64);
        Tensor x = input(DType.F64);
        Tensor base = m.forward(x);
        LoraModel lm = LoraModel.attach(m, cfg().targetModules("q_proj", "v_proj").build(), new Generator(1));
        // expected: each block's q and v add s x A^T B^T
        Tensor h = x;
        for (ToyModel.Block b : m.layers.blocks) {
            LoraAdapter qa = lm.layers().get(pathOf(m, b.qProj)).adapter("default");
            LoraAdapter va = lm.layers().get(pathOf(m, b.vProj)).adapter("default");
            Tensor q = b.qProj.forwardBase(h).add(h.matmul(qa.a().mT()).matmul(qa.b().mT()).mul(qa.scaling()));
            Tensor v = b.vProj.forwardBase(h).add(h.matmul(va.a().mT()).matmul(va.b().mT()).mul(va.scaling()));
            h = h.add(q.add(v)).add(b.mlp.forward(h));
        }
        close(m.forward(x), m.lmHead.forward(h), Checks.F64, "adapted model");
        assertThat(Checks.relErr(m.forward(x), base)).isGreaterThan(1e-3);
        assertThat(lm.trainableParameters()).hasSize(8);
        for (Tensor t : m.parameters()) assertThat(t.requiresGrad()).isFalse();
        // a few AdamW steps lower a regression loss, base weights unchanged
        Tensor target = Tensor.randn(new Generator(9), DType.F64, 2, 5, VOCAB);
        Tensor w0 = m.lmHead.weight().copy();
        AdamW opt = new AdamW(lm.trainableParameters(), 1e-2, 0.9, 0.999, 1e-8, 0.0);
        double first = 0, last = 0;
        for (int step = 0; step < 30; step++) {
            opt.zeroGrad();
            Tensor loss = F.mseLoss(m.forward(x), target);
            if (step == 0) first = loss.item();
            last = loss.item();
            Autograd.backward(loss);
            opt.step();
        }
        assertThat(last).isLessThan(0.9 * first);
        assertThat(m.lmHead.weight().toDoubleArray()).isEqualTo(w0.toDoubleArray());
    }

    private static String pathOf(ToyModel m, Linear l) {
        for (Map.Entry<String, dev.moe4j.autograd.nn.Module> e : LoraModel.modules(m).entrySet()) if (e.getValue() == l) return e.getKey();
        throw new AssertionError("not in the model");
    }

    @Test
    void peftNamesOfTheWholeModel() {
        ToyModel m = model(DType.F32);
        LoraModel lm = LoraModel.attach(m, cfg().targetModules("layers.0.q_proj").useDora(true).build(), new Generator(1));
        assertThat(lm.peftNamedParameters().keySet()).startsWith(
                "base_model.model.layers.0.q_proj.base_layer.weight", "base_model.model.layers.0.q_proj.base_layer.bias",
                "base_model.model.layers.0.q_proj.lora_A.default.weight", "base_model.model.layers.0.q_proj.lora_B.default.weight",
                "base_model.model.layers.0.q_proj.lora_magnitude_vector.default.weight", "base_model.model.layers.0.v_proj.weight");
        assertThat(lm.adapterStateDict("default").keySet()).containsExactly("base_model.model.layers.0.q_proj.lora_A.weight",
                "base_model.model.layers.0.q_proj.lora_B.weight", "base_model.model.layers.0.q_proj.lora_magnitude_vector");
    }

    @Test
    void severalAdaptersMergeUnloadAndDisable() {
        ToyModel m = model(DType.F32);
        Tensor x = input(DType.F32);
        Tensor base = m.forward(x);
        LoraModel lm = LoraModel.attach(m, cfg().targetModules("q_proj").build(), new Generator(1));
        lm.addAdapter("second", cfg().r(2).targetModules("v_proj", "q_proj").build(), new Generator(2));
        Tensor onlyFirst = m.forward(x);
        lm.setActiveAdapters("second");
        Tensor onlySecond = m.forward(x);
        assertThat(Checks.relErr(onlySecond, onlyFirst)).isGreaterThan(1e-3);
        lm.setActiveAdapters("default", "second");
        Tensor both = m.forward(x);
        lm.merge();
        close(m.forward(x), both, Checks.F32, "merged");
        lm.setAdaptersEnabled(false);
        close(m.forward(x), base, Checks.F32, "disabled (unmerged)");
        lm.setAdaptersEnabled(true);
        close(m.forward(x), both, Checks.F32, "enabled");
        lm.setActiveAdapters("default");
        close(m.forward(x), onlyFirst, Checks.F32, "first again");
        assertThatThrownBy(() -> lm.setActiveAdapters("nope")).hasMessageContaining("'nope'");
        Tensor w0 = m.layers.blocks.get(0).qProj.weight().copy();
        lm.unload();
        assertThat(m.layers.blocks.get(0).qProj.forwardOverride()).isNull();
        assertThat(m.layers.blocks.get(0).qProj.weight().toFloatArray()).isEqualTo(w0.toFloatArray());
        close(m.forward(x), base, Checks.F32, "unloaded");
    }

    @Test
    void mergeAndUnloadFoldsTheUpdate() {
        ToyModel m = model(DType.F32);
        Tensor x = input(DType.F32);
        LoraModel lm = LoraModel.attach(m, cfg().targetModules("q_proj", "mlp.0").useDora(true).build(), new Generator(1));
        Tensor adapted = m.forward(x);
        assertThat(lm.mergeAndUnload()).isSameAs(m);
        for (dev.moe4j.autograd.nn.Module mod : LoraModel.modules(m).values()) {
            if (mod instanceof Linear l) assertThat(l.forwardOverride()).isNull();
        }
        close(m.forward(x), adapted, Checks.F32, "merged and unloaded");
    }

    // ------------------------------------------------------------------ bad input: nothing changes

    @Test
    void unknownTargetsAreNamedAndTheModelIsUnchanged() {
        ToyModel m = model(DType.F32);
        assertThatThrownBy(() -> LoraModel.attach(m, cfg().targetModules("q_proj", "k_proj").build(), new Generator(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[k_proj]").hasMessageContaining("match no module");
        assertThatThrownBy(() -> LoraModel.attach(m, cfg().targetModulesRegex(".*k_proj").build(), new Generator(1)))
                .hasMessageContaining("select no module");
        assertThatThrownBy(() -> LoraModel.attach(m, cfg().targetModules("mlp").build(), new Generator(1)))
                .hasMessageContaining("'layers.0.mlp' is a Sequential");
        assertUntouched(m, model(DType.F32));
    }

    @Test
    void rankTooLargeAnywhereChangesNothing() {
        ToyModel m = model(DType.F32);
        // q_proj [12, 12] takes r = 12; lm_head [9, 12] does not
        assertThatThrownBy(() -> LoraModel.attach(m, cfg().r(12).targetModules("q_proj", "lm_head").build(), new Generator(1)))
                .hasMessageContaining("'lm_head'").hasMessageContaining("r = 12 exceeds min(in, out) = min(12, 9)");
        assertUntouched(m, model(DType.F32));
        assertThatThrownBy(() -> cfg().r(0).targetModules("q_proj").build()).hasMessageContaining("r must be >= 1");
    }

    @Test
    void secondAdapterFailureKeepsTheFirst() {
        ToyModel m = model(DType.F32);
        LoraModel lm = LoraModel.attach(m, cfg().targetModules("q_proj").build(), new Generator(1));
        Tensor x = input(DType.F32);
        Tensor y = m.forward(x);
        assertThatThrownBy(() -> lm.addAdapter("default", cfg().targetModules("v_proj").build(), new Generator(2))).hasMessageContaining("already exists");
        assertThatThrownBy(() -> lm.addAdapter("b", cfg().targetModules("v_proj", "zz").build(), new Generator(2))).hasMessageContaining("[zz]");
        assertThat(lm.layers().keySet()).containsExactly("layers.0.q_proj", "layers.1.q_proj");
        assertThat(m.layers.blocks.get(0).vProj.forwardOverride()).isNull();
        assertThat(lm.configs().keySet()).containsExactly("default");
        assertThat(m.forward(x).toFloatArray()).isEqualTo(y.toFloatArray());
    }

    // ------------------------------------------------------------------ folders

    @Test
    void savedFoldersReadBackIdentically(@TempDir Path dir) throws IOException {
        ToyModel m = model(DType.F32);
        LoraConfig c1 = cfg().targetModules("q_proj", "mlp.2").rankPattern("mlp\\.2", 3).alphaPattern("q_proj", 5).dropout(0.1).build();
        LoraConfig c2 = cfg().targetModulesRegex(".*v_proj").useDora(true).useRslora(true).build();
        LoraModel lm = LoraModel.attach(m, c1, new Generator(1));
        lm.addAdapter("styled", c2, new Generator(2));
        lm.setActiveAdapters("default", "styled");
        lm.eval();
        Tensor x = input(DType.F32);
        Tensor y = m.forward(x);
        lm.save(dir);
        assertThat(dir.resolve("adapter_config.json")).exists();
        assertThat(dir.resolve("styled").resolve("adapter_model.safetensors")).exists();

        ToyModel m2 = model(DType.F32);
        LoraModel back = LoraModel.fromPretrained(m2, dir);
        back.loadAdapter(dir.resolve("styled"), "styled", new Generator(0));
        back.setActiveAdapters("default", "styled");
        m2.eval();
        assertThat(back.config("default")).isEqualTo(c1);
        assertThat(back.config("styled")).isEqualTo(c2);
        for (String name : List.of("default", "styled")) {
            Map<String, Tensor> a = lm.adapterStateDict(name), b = back.adapterStateDict(name);
            assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
            for (String k : a.keySet()) assertThat(b.get(k).toFloatArray()).as(k).isEqualTo(a.get(k).toFloatArray());
        }
        assertThat(m2.forward(x).toFloatArray()).isEqualTo(y.toFloatArray());
    }

    private static Path writeFolder(Path dir, String json, Map<String, Tensor> tensors) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), json);
        SafetensorsWriter.save(dir.resolve("adapter_model.safetensors"), tensors);
        return dir;
    }

    private static Map<String, Tensor> goodTensors(int r) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (int i = 0; i < 2; i++) {
            t.put("base_model.model.layers." + i + ".q_proj.lora_A.weight", Tensor.randn(new Generator(i), DType.F32, r, D));
            t.put("base_model.model.layers." + i + ".q_proj.lora_B.weight", Tensor.randn(new Generator(10 + i), DType.F32, D, r));
        }
        return t;
    }

    private static final String GOOD = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"],"
            + " \"bias\": \"none\", \"modules_to_save\": null, \"fan_in_fan_out\": false, \"loftq_config\": {}, \"task_type\": \"CAUSAL_LM\"}";

    @Test
    void loadingAGoodFolder(@TempDir Path dir) throws IOException {
        ToyModel m = model(DType.F32);
        Map<String, Tensor> t = goodTensors(4);
        LoraModel lm = LoraModel.fromPretrained(m, writeFolder(dir, GOOD, t));
        LoraAdapter a = lm.layers().get("layers.1.q_proj").adapter("default");
        assertThat(a.a().toFloatArray()).isEqualTo(t.get("base_model.model.layers.1.q_proj.lora_A.weight").toFloatArray());
        assertThat(a.scaling()).isEqualTo(2.0);
    }

    @Test
    void badFoldersAreRejectedWithReasonsAndChangeNothing(@TempDir Path dir) throws IOException {
        ToyModel m = model(DType.F32);
        ToyModel fresh = model(DType.F32);

        Map<String, Tensor> wrongShape = goodTensors(4);
        wrongShape.put("base_model.model.layers.1.q_proj.lora_B.weight", Tensor.zeros(DType.F32, D + 1, 4));
        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("a"), GOOD, wrongShape)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'base_model.model.layers.1.q_proj.lora_B.weight' has shape [13, 4]").hasMessageContaining("needs [12, 4]");

        Map<String, Tensor> wrongRank = goodTensors(3);
        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("b"), GOOD, wrongRank)))
                .hasMessageContaining("has shape [3, 12]");

        Map<String, Tensor> extra = goodTensors(4);
        extra.put("base_model.model.layers.0.v_proj.lora_A.weight", Tensor.zeros(DType.F32, 4, D));
        extra.remove("base_model.model.layers.0.q_proj.lora_B.weight");
        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("c"), GOOD, extra)))
                .hasMessageContaining("unexpected tensor 'base_model.model.layers.0.v_proj.lora_A.weight'")
                .hasMessageContaining("missing tensor 'base_model.model.layers.0.q_proj.lora_B.weight'");

        String unsupported = GOOD.replace("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]")
                .replace("\"fan_in_fan_out\": false", "\"fan_in_fan_out\": true").replace("\"bias\": \"none\"", "\"bias\": \"all\"")
                .replace("{\"peft_type", "{\"layers_to_transform\": [0], \"use_qalora\": false, \"peft_type");
        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("d"), unsupported, goodTensors(4))))
                .hasMessageContaining("does not support").hasMessageContaining("modules_to_save=[\"lm_head\"]")
                .hasMessageContaining("fan_in_fan_out=true").hasMessageContaining("bias=\"all\"")
                .hasMessageContaining("layers_to_transform=[0]").hasMessageNotContaining("use_qalora");

        String unknownTarget = GOOD.replace("[\"q_proj\"]", "[\"q_proj\", \"o_proj\"]");
        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("e"), unknownTarget, goodTensors(4))))
                .hasMessageContaining("[o_proj]");

        String pissa = GOOD.replace("\"r\": 4", "\"r\": 4, \"init_lora_weights\": \"pissa\"");
        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("f"), pissa, goodTensors(4))))
                .hasMessageContaining("init_lora_weights=\"pissa\"");

        String notLora = GOOD.replace("\"LORA\"", "\"IA3\"");
        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("g"), notLora, goodTensors(4))))
                .hasMessageContaining("only \"LORA\"");

        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("h"), "{not json", goodTensors(4))))
                .hasMessageContaining("not valid JSON");

        String rankZero = GOOD.replace("\"r\": 4", "\"r\": 0");
        assertThatThrownBy(() -> LoraModel.fromPretrained(m, writeFolder(dir.resolve("i"), rankZero, goodTensors(4))))
                .hasMessageContaining("r must be >= 1");

        assertUntouched(m, fresh);
    }

    @Test
    void configJsonRoundTripAndPeftShape() {
        LoraConfig c = cfg().targetModules("q_proj", "v_proj").excludeModules(ModulePattern.regex(".*lm_head"))
                .rankPattern("q_proj", 2).alphaPattern("v_proj", 3.5).useDora(true).init(LoraInit.GAUSSIAN).build();
        String json = PeftConfigJson.toJson(c);
        assertThat(json).contains("\"peft_type\" : \"LORA\"").contains("\"lora_alpha\" : 8,").contains("\"init_lora_weights\" : \"gaussian\"");
        assertThat(PeftConfigJson.parse(json, "test")).isEqualTo(c);
        LoraConfig regex = cfg().targetModulesRegex(".*proj").build();
        assertThat(PeftConfigJson.parse(PeftConfigJson.toJson(regex), "test")).isEqualTo(regex);
    }

    @Test
    void loadingConvertsDtypeAndKeepsFileValues(@TempDir Path dir) throws IOException {
        ToyModel m = model(DType.F64);
        Map<String, Tensor> t = goodTensors(4);
        LoraModel lm = LoraModel.fromPretrained(m, writeFolder(dir, GOOD, t));
        Tensor a = lm.layers().get("layers.0.q_proj").adapter("default").a();
        assertThat(a.dtype()).isEqualTo(DType.F64);
        try (NoGrad s = NoGrad.enter(); SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
            assertThat(a.toFloatArray()).isEqualTo(f.tensor("base_model.model.layers.0.q_proj.lora_A.weight").toFloatArray());
        }
    }
}
