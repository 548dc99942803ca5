package dev.moe4j.tests;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.lora.LoraConfig;
import dev.moe4j.lora.LoraModel;
import dev.moe4j.lora.PeftConfigJson;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Conformance of the LoRA layers with PEFT: every {@code *_peft_lora}, {@code *_peft_rslora} and
 * {@code *_peft_dora} file in the reference folder ({@code golden.dir}) is one test per dtype, and
 * every adapter folder {@code *_peft_*_adapter/} one more.
 *
 * <p>A layer file holds a {@code Linear} wrapped by PEFT ({@code param.base_model.model.<path>.*}),
 * an input, the output, an upstream gradient and the gradients of the input and the adapter
 * parameters, and for LoRA and rsLoRA the weight after {@code merge_and_unload}. Sizes and the module
 * path come from the tensors; r and alpha from the metadata string ({@code "... r=8 alpha=16"}) or,
 * failing that, from the matching adapter folder; the variant from the file name. Every parameter
 * name of the file must be a parameter name of our PEFT model and the other way round.
 *
 * <p>A known defect of the reference files is detected and corrected openly: when a LoRA or
 * rsLoRA file's {@code base_layer.weight} is bit-for-bit its {@code merged.<path>.weight} although
 * {@code s B A} is not zero, the base weight was stored after {@code merge_and_unload} had changed
 * it in place (PyTorch tensors are saved by reference), and the file's output, input gradient and
 * merged weight all belong to the unmerged base {@code W0 = merged - s B A}. The test then uses
 * that W0 (computed in float64 from the file's own tensors, s from r and alpha) and says so on
 * stdout. The adapter gradients, which do not depend on W, pin s independently.
 *
 * <p>Agreement, as relative error ||got - want|| / ||want||: in float32 1e-5 for the output, 1e-4
 * for the gradients, 1e-6 for the merged weight; in float64 1e-10 throughout. Unmerging must give
 * back the base weight within float rounding (1e-6 in float32).
 */
class PeftConformanceTest {
    private static final double F32_OUT = Tolerances.OUTPUT, F32_GRAD = Tolerances.GRADIENT;
    /** The merged weight and the weight after unmerging, float32 against float64. */
    private static final double F32_MERGED = 1e-6, F32_UNMERGED = 1e-6;
    private static final double F64_TOL = 1e-10;
    private static final Pattern LAYER_FILE = Pattern.compile("(.*)_peft_(lora|rslora|dora)\\.safetensors");
    private static final Pattern ADAPTER_DIR = Pattern.compile("(.*)_peft_(lora|rslora|dora)_adapter");
    private static final Pattern BASE_WEIGHT = Pattern.compile("param\\." + Pattern.quote(LoraModel.PREFIX) + "(.+)\\.base_layer\\.weight");

    @TestFactory
    Stream<DynamicTest> layerFiles() throws IOException {
        Path dir = AutogradOpsConformanceTest.goldenDir();
        if (!Files.isDirectory(dir)) fail("reference folder " + dir + " does not exist (set -Dgolden.dir)");
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> LAYER_FILE.matcher(p.getFileName().toString()).matches()).sorted().toList();
        }
        if (files.isEmpty()) fail("no *_peft_{lora,rslora,dora}.safetensors in " + dir);
        List<DynamicTest> tests = new ArrayList<>();
        for (Path f : files) {
            for (DType dtype : List.of(DType.F32, DType.F64)) {
                tests.add(DynamicTest.dynamicTest(f.getFileName() + " [" + dtype + "]", f.toUri(), () -> checkLayerFile(f, dtype)));
            }
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> adapterFolders(@TempDir Path tmp) throws IOException {
        Path dir = AutogradOpsConformanceTest.goldenDir();
        if (!Files.isDirectory(dir)) fail("reference folder " + dir + " does not exist (set -Dgolden.dir)");
        List<Path> folders;
        try (Stream<Path> s = Files.list(dir)) {
            folders = s.filter(p -> Files.isDirectory(p) && ADAPTER_DIR.matcher(p.getFileName().toString()).matches()).sorted().toList();
        }
        if (folders.isEmpty()) fail("no *_peft_*_adapter folders in " + dir);
        return folders.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), f.toUri(),
                () -> checkAdapterFolder(f, tmp.resolve(f.getFileName().toString()))));
    }

    // ------------------------------------------------------------------ one layer file

    /** What a layer file holds. */
    record Case(String variant, String path, int r, double alpha, Map<String, Tensor> tensors, Tensor baseWeight) {
        Tensor get(String name) {
            Tensor t = tensors.get(name);
            if (t == null) throw new AssertionError("reference file lacks tensor '" + name + "'");
            return t;
        }

        String prefix() { return "param." + LoraModel.PREFIX + path; }
    }

    static Case readCase(Path file) throws IOException {
        Matcher fm = LAYER_FILE.matcher(file.getFileName().toString());
        if (!fm.matches()) throw new AssertionError("not a layer file: " + file);
        String variant = fm.group(2);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> meta;
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (String n : st.names()) tensors.put(n, st.tensor(n));
            meta = st.metadata();
        }
        String path = null;
        for (String n : tensors.keySet()) {
            Matcher m = BASE_WEIGHT.matcher(n);
            if (m.matches()) {
                if (path != null) throw new AssertionError(file.getFileName() + " has two base layers: " + path + " and " + m.group(1));
                path = m.group(1);
            }
        }
        if (path == null) throw new AssertionError(file.getFileName() + " has no param." + LoraModel.PREFIX + "<path>.base_layer.weight");
        String cls = meta.getOrDefault("class", "");
        Matcher rm = Pattern.compile("\\br=(\\d+)").matcher(cls);
        Matcher am = Pattern.compile("\\balpha=([-+0-9.eE]+)").matcher(cls);
        int r;
        double alpha;
        if (rm.find() && am.find()) {
            r = Integer.parseInt(rm.group(1));
            alpha = Double.parseDouble(am.group(1));
        } else {
            Path folder = file.resolveSibling(fm.group(1) + "_peft_" + variant + "_adapter");
            if (!Files.isDirectory(folder)) {
                throw new AssertionError(file.getFileName() + ": metadata class '" + cls + "' gives no r and alpha, and " + folder + " is missing");
            }
            LoraConfig c = PeftConfigJson.read(folder);
            r = c.r();
            alpha = c.alpha();
        }
        Case c = new Case(variant, path, r, alpha, tensors, null);
        return new Case(variant, path, r, alpha, tensors, baseWeight(c));
    }

    /**
     * The unmerged base weight: the file's {@code base_layer.weight}, or {@code merged - s B A} when
     * the file stored the base weight after merging (see the class comment).
     */
    private static Tensor baseWeight(Case c) {
        Tensor w = c.get(c.prefix() + ".base_layer.weight");
        Tensor merged = c.tensors().get("merged." + c.path() + ".weight");
        if (merged == null || c.variant().equals("dora") || !Arrays.equals(w.toDoubleArray(), merged.toDoubleArray())) return w;
        Tensor a = c.get(c.prefix() + ".lora_A.default.weight").to(DType.F64);
        Tensor b = c.get(c.prefix() + ".lora_B.default.weight").to(DType.F64);
        double s = c.variant().equals("rslora") ? c.alpha() / Math.sqrt(c.r()) : c.alpha() / c.r();
        Tensor delta = b.matmul(a).mul(s);
        if (delta.abs().max().item() == 0) return w;
        System.out.println("note: " + c.path() + " in a _peft_" + c.variant() + " reference file: base_layer.weight equals the merged weight"
                + " (stored after merge_and_unload); using merged - s B A as the base weight");
        return merged.to(DType.F64).sub(delta);
    }

    /** The base layer of the case, in {@code dtype}, inside a model whose module at {@code path} it is. */
    static Chain baseModel(Case c, DType dtype) {
        Tensor w = c.baseWeight();
        Tensor b = c.tensors().get(c.prefix() + ".base_layer.bias");
        Linear lin = new Linear(w.size(1), w.size(0), b != null, dtype, new Generator(1));
        lin.weight().copyFrom(w);
        if (b != null) lin.bias().copyFrom(b);
        return new Chain(c.path(), lin);
    }

    static LoraConfig config(Case c) {
        String leaf = c.path().substring(c.path().lastIndexOf('.') + 1);
        return LoraConfig.builder().r(c.r()).alpha(c.alpha()).useRslora(c.variant().equals("rslora"))
                .useDora(c.variant().equals("dora")).targetModules(leaf).build();
    }

    private static void checkLayerFile(Path file, DType dtype) throws IOException {
        Case c = readCase(file);
        boolean f32 = dtype == DType.F32;
        double outTol = f32 ? F32_OUT : F64_TOL, gradTol = f32 ? F32_GRAD : F64_TOL;
        double mergedTol = f32 ? F32_MERGED : F64_TOL, unmergedTol = f32 ? F32_UNMERGED : F64_TOL;

        Chain model = baseModel(c, dtype);
        LoraModel lm = LoraModel.attach(model, config(c), new Generator(2));
        Map<String, Tensor> params = lm.peftNamedParameters();
        TreeSet<String> fileParams = new TreeSet<>();
        for (String n : c.tensors().keySet()) if (n.startsWith("param.")) fileParams.add(n.substring("param.".length()));
        assertThat(new TreeSet<>(params.keySet())).as("parameter names").isEqualTo(fileParams);
        for (String n : fileParams) {
            if (!n.endsWith(".base_layer.weight")) params.get(n).copyFrom(c.get("param." + n));
        }

        Tensor x = c.get("input").to(dtype).setRequiresGrad(true);
        Tensor y = model.forward(x);
        List<String> failures = new ArrayList<>();
        check(failures, "output", y, c.get("output"), outTol);

        Autograd.backward(y, c.get("grad_output").to(dtype));
        check(failures, "grad_input", x.grad(), c.get("grad_input"), gradTol);
        for (String n : c.tensors().keySet()) {
            if (!n.startsWith("grad.")) continue;
            String p = n.substring("grad.".length());
            Tensor param = params.get(p);
            if (param == null) {
                failures.add(n + ": no such parameter");
                continue;
            }
            check(failures, n, param.grad(), c.get(n), gradTol);
        }
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            boolean frozen = e.getKey().contains(".base_layer.");
            if (frozen) assertThat(e.getValue().grad()).as("gradient of the frozen " + e.getKey()).isNull();
        }

        // merge: merged weight, same output; unmerge: the base weight back
        Tensor w0 = model.linear().weight().copy();
        lm.merge();
        String mergedName = "merged." + c.path() + ".weight";
        if (c.tensors().containsKey(mergedName)) check(failures, mergedName, model.linear().weight(), c.get(mergedName), mergedTol);
        check(failures, "output after merge", model.forward(c.get("input").to(dtype)), c.get("output"), outTol);
        lm.unmerge();
        check(failures, "weight after unmerge", model.linear().weight(), w0, unmergedTol);
        check(failures, "output after unmerge", model.forward(c.get("input").to(dtype)), c.get("output"), outTol);

        // disabled: the base layer alone
        lm.setAdaptersEnabled(false);
        Tensor base = c.get("input").matmul(c.baseWeight().mT());
        Tensor bias = c.tensors().get(c.prefix() + ".base_layer.bias");
        if (bias != null) base = base.add(bias);
        check(failures, "output with adapters disabled", model.forward(c.get("input").to(dtype)), base, outTol);

        if (!failures.isEmpty()) fail(file.getFileName() + " [" + dtype + "]:\n  " + String.join("\n  ", failures));
    }

    // ------------------------------------------------------------------ one adapter folder

    private static void checkAdapterFolder(Path folder, Path saved) throws IOException {
        Matcher m = ADAPTER_DIR.matcher(folder.getFileName().toString());
        assertThat(m.matches()).isTrue();
        Path file = folder.resolveSibling(m.group(1) + "_peft_" + m.group(2) + ".safetensors");
        if (!Files.isRegularFile(file)) fail(folder.getFileName() + ": the matching layer file " + file.getFileName() + " is missing");
        Case c = readCase(file);
        List<String> failures = new ArrayList<>();

        Chain model = baseModel(c, DType.F32);
        LoraModel lm = LoraModel.fromPretrained(model, folder);
        LoraConfig cfg = lm.config(LoraModel.DEFAULT_ADAPTER);
        assertThat(cfg.r()).as("r").isEqualTo(c.r());
        assertThat(cfg.alpha()).as("lora_alpha").isEqualTo(c.alpha());
        assertThat(cfg.useDora()).as("use_dora").isEqualTo(c.variant().equals("dora"));
        assertThat(cfg.useRslora()).as("use_rslora").isEqualTo(c.variant().equals("rslora"));
        Tensor x = c.get("input").to(DType.F32);
        Tensor y = model.forward(x);
        check(failures, "output of the loaded adapter", y, c.get("output"), F32_OUT);

        // the folder holds the layer file's adapter weights
        Map<String, Tensor> params = lm.peftNamedParameters();
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            if (e.getKey().contains(".base_layer.")) continue;
            check(failures, "loaded " + e.getKey(), e.getValue(), c.get("param." + e.getKey()), 0.0);
        }

        // save and read back: the same config, the same bits, the same output
        lm.saveAdapter(saved, LoraModel.DEFAULT_ADAPTER);
        assertThat(PeftConfigJson.read(saved)).as("config read back").isEqualTo(cfg);
        Map<String, Tensor> written = SafetensorsFile.load(saved.resolve(LoraModel.WEIGHTS_FILE));
        Map<String, Tensor> original = lm.adapterStateDict(LoraModel.DEFAULT_ADAPTER);
        assertThat(written.keySet()).as("saved keys").isEqualTo(original.keySet());
        for (String k : original.keySet()) {
            assertThat(written.get(k).dtype()).as(k).isEqualTo(original.get(k).dtype());
            assertThat(written.get(k).shape()).as(k).isEqualTo(original.get(k).shape());
            assertThat(written.get(k).toFloatArray()).as(k).isEqualTo(original.get(k).toFloatArray());
        }
        // and the saved keys are PEFT's keys
        try (SafetensorsFile st = SafetensorsFile.open(folder.resolve(LoraModel.WEIGHTS_FILE))) {
            assertThat(new TreeSet<>(written.keySet())).as("keys of the saved file vs PEFT's file").isEqualTo(new TreeSet<>(st.names()));
        }
        Chain again = baseModel(c, DType.F32);
        LoraModel.fromPretrained(again, saved);
        assertThat(again.forward(x).toFloatArray()).as("output of the re-read adapter").isEqualTo(y.toFloatArray());

        if (!failures.isEmpty()) fail(folder.getFileName() + ":\n  " + String.join("\n  ", failures));
    }

    // ------------------------------------------------------------------ helpers

    private static void check(List<String> failures, String what, Tensor got, Tensor want, double tol) {
        if (got == null) {
            failures.add(what + ": no value (null)");
            return;
        }
        if (!Arrays.equals(got.shape(), want.shape())) {
            failures.add(what + ": shape " + Shape.str(got.shape()) + ", want " + Shape.str(want.shape()));
            return;
        }
        double e = AutogradOpsConformanceTest.relErr(got, want);
        if (!(e <= tol)) failures.add(String.format("%s: relative error %.3g > %.1g", what, e, tol));
    }

    /** A model whose only layer sits at a dotted path: containers named by the path's parts, the Linear last. */
    static final class Chain extends Module {
        private final Module child;
        private final Linear linear;

        Chain(String path, Linear linear) {
            this.linear = linear;
            int dot = path.indexOf('.');
            if (dot < 0) {
                child = registerModule(path, linear);
            } else {
                child = registerModule(path.substring(0, dot), new Chain(path.substring(dot + 1), linear));
            }
        }

        Linear linear() { return linear; }

        @Override
        public Tensor forward(Tensor x) { return child.forward(x); }
    }
}
