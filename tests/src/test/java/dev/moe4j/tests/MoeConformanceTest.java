package dev.moe4j.tests;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.hf.HfMoeBlock;
import dev.moe4j.moe.hf.HfMoeLoader;
import dev.moe4j.moe.hf.HfParameter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Conformance of the MoE layers with Hugging Face transformers: every {@code *_mixtral_moe},
 * {@code *_qwen2_moe}, {@code *_deepseek_v3_moe} and {@code *_switch_moe} reference file of
 * {@code golden.dir} is loaded with {@link HfMoeLoader} (sizes and settings from the file's own
 * config), run forward and backward in float32, and compared: expert choices, router logits and
 * weights, output, and every gradient the file holds.
 *
 * <p>Each file is one container named after it, with one test per reference tensor. A reference
 * tensor can only be compared when the inputs it was computed from (input, grad_output, the
 * parameters it depends on) and the tensor itself are finite and representable in float32; when they
 * are not, its test aborts (a JUnit assumption) naming the offending tensors and their counts of
 * non-finite values, instead of passing or failing. Which parameters a tensor depends on: the router
 * outputs on the input and the router parameters; shared-expert outputs and gradients on the input,
 * grad_output and the shared-expert parameters; everything else on all of them.
 *
 * <p>Expert choices are compared per token as sets (DeepSeek-V3 takes its top-k unsorted, so slot
 * order carries no meaning), with weights matched by expert id. Where the sets differ, the test
 * accepts it only as a tie: the chosen experts' selection scores (under this engine's scores) must
 * equal those of the reference's choice, which also forces identical ids wherever the k-th and
 * (k+1)-th scores differ.
 */
class MoeConformanceTest {
    private static final List<String> BLOCKS = List.of("_mixtral_moe", "_qwen2_moe", "_deepseek_v3_moe", "_switch_moe");

    @TestFactory
    Stream<DynamicNode> huggingFaceMoeBlocks() throws IOException {
        List<Path> files = new ArrayList<>();
        for (String suffix : BLOCKS) files.addAll(Golden.files(suffix));
        assertFalse(files.isEmpty(), "no MoE block reference files (" + BLOCKS + ") in " + Golden.dir().toAbsolutePath());
        return files.stream().map(f -> {
            try {
                return DynamicContainer.dynamicContainer(Golden.name(f), f.toUri(), new BlockCase(f).checks().stream());
            } catch (IOException | RuntimeException e) {
                return DynamicTest.dynamicTest(Golden.name(f), f.toUri(), () -> { throw new AssertionError("cannot read " + f, e); });
            }
        });
    }

    /** One reference file and the lazily computed run of the layer on it. */
    private static final class BlockCase {
        final Path file;
        final Map<String, Tensor> ref;
        final boolean isSwitch;
        private Run run;

        BlockCase(Path file) throws IOException {
            this.file = file;
            this.ref = Golden.load(file);
            this.isSwitch = Golden.name(file).endsWith("_switch_moe");
        }

        List<DynamicNode> checks() {
            List<DynamicNode> out = new ArrayList<>();
            out.add(test("expert choices", this::expertChoices));
            if (!isSwitch && ref.containsKey("hook.gate.out0")) out.add(test("router logits", this::routerLogits));
            if (ref.containsKey(isSwitch ? "hook.router.out2" : "hook.gate.out1")) out.add(test("router weights", this::routerWeights));
            if (ref.containsKey("hook.shared_expert_gate.out")) out.add(test("shared expert gate", this::sharedGate));
            out.add(test("output", () -> compare("output", allDeps(false), run().output(), Tolerances.OUTPUT)));
            out.add(test("grad_input", () -> compare("grad_input", allDeps(true), run().gradInput(), Tolerances.GRADIENT)));
            for (String name : ref.keySet()) {
                if (!name.startsWith("grad.")) continue;
                String hf = name.substring("grad.".length());
                out.add(test(name, () -> {
                    Set<String> deps = hf.startsWith("shared_expert") ? sharedDeps() : allDeps(true);
                    requireCheckable(name, deps);
                    HfParameter p = run().block().parameter(hf);
                    Tensor g = p.gradient();
                    assertNotNull(g, "no gradient reached " + hf);
                    compare(name, deps, g, Tolerances.GRADIENT);
                }));
            }
            return out;
        }

        /** A check, named "file: what" so that flat reports stay unambiguous. */
        private DynamicTest test(String name, Executable body) {
            return DynamicTest.dynamicTest(Golden.name(file) + ": " + name, file.toUri(), body);
        }

        // ------------------------------------------------------------------ the run

        record Run(HfMoeBlock block, Routing routing, Tensor output, Tensor gradInput, Tensor sharedGateLogits) {}

        /** Forward and backward in float32, once. */
        Run run() throws IOException {
            if (run != null) return run;
            HfMoeBlock block = HfMoeLoader.loadReferenceFile(file);
            MoeLayer layer = block.layer();
            layer.eval();
            // compute whatever the file's sound parts allow, even when its garbage parameters give NaN logits
            layer.router().failOnNaN(false);
            Tensor x = require("input").to(DType.F32).copy().setRequiresGrad(true);
            Tensor y = layer.forward(x);
            Autograd.backward(y, require("grad_output").to(DType.F32));
            run = new Run(block, layer.lastRouting(), y, x.grad(), layer.lastSharedGateLogits());
            return run;
        }

        Tensor require(String name) {
            Tensor t = ref.get(name);
            if (t == null) fail(file.getFileName() + " lacks the reference tensor '" + name + "'");
            return t;
        }

        // ------------------------------------------------------------------ what a tensor depends on

        Set<String> routerDeps() {
            Set<String> deps = new LinkedHashSet<>(List.of("input"));
            for (String n : ref.keySet()) {
                if (n.startsWith("param.gate.") || n.startsWith("param.router.") || n.startsWith("buffer.gate.") || n.startsWith("buffer.router.")) deps.add(n);
            }
            return deps;
        }

        Set<String> sharedDeps() {
            Set<String> deps = new LinkedHashSet<>(List.of("input", "grad_output"));
            for (String n : ref.keySet()) if (n.startsWith("param.shared_expert")) deps.add(n);
            return deps;
        }

        Set<String> allDeps(boolean withGradOutput) {
            Set<String> deps = new LinkedHashSet<>(List.of("input"));
            if (withGradOutput) deps.add("grad_output");
            for (String n : ref.keySet()) if (n.startsWith("param.") || n.startsWith("buffer.")) deps.add(n);
            return deps;
        }

        /** Aborts (JUnit assumption) when the reference tensor or what it was computed from is unusable. */
        void requireCheckable(String name, Set<String> deps) {
            List<String> problems = new ArrayList<>();
            for (String d : deps) {
                String p = Golden.unsound(d, require(d));
                if (p != null) problems.add(p);
            }
            if (!problems.isEmpty()) {
                Assumptions.abort("cannot check " + name + " of " + Golden.name(file) + ": the reference file's own inputs are unusable in float32: "
                        + String.join("; ", problems));
            }
            String self = Golden.unsound(name, require(name));
            if (self != null) Assumptions.abort("cannot check " + name + " of " + Golden.name(file) + ": the reference tensor " + self);
        }

        void compare(String name, Set<String> deps, Tensor got, double tolerance) throws IOException {
            requireCheckable(name, deps);
            Tensor want = require(name);
            assertEquals(want.numel(), got.numel(), name + ": " + Arrays.toString(got.shape()) + " vs reference " + Arrays.toString(want.shape()));
            double err = Golden.relativeError(got.toDoubleArray(), want.toDoubleArray());
            report(name, err, tolerance);
            assertTrue(err <= tolerance, name + ": relative error " + err + " exceeds " + tolerance);
        }

        void report(String what, double err, double tolerance) {
            System.out.printf("%s %s: relative error %.3g (tolerance %.0e)%n", Golden.name(file), what, err, tolerance);
        }

        /**
         * The tokens whose router outputs can be compared: their rows of the reference router
         * logits (when present) and weights are finite and within the float32 range. Aborts when the
         * router's own parameters or the input are unusable, or when no token is left.
         */
        boolean[] checkableTokens(String weightsName) {
            Set<String> deps = routerDeps();
            List<String> problems = new ArrayList<>();
            for (String d : deps) {
                String p = Golden.unsound(d, require(d));
                if (p != null) problems.add(p);
            }
            if (!problems.isEmpty()) {
                Assumptions.abort("cannot check the router of " + Golden.name(file) + ": the reference file's own inputs are unusable in float32: "
                        + String.join("; ", problems));
            }
            Tensor w = require(weightsName);
            int T = w.size(0);
            boolean[] ok = Golden.soundRows(w, T);
            if (!isSwitch && ref.containsKey("hook.gate.out0")) {
                boolean[] l = Golden.soundRows(ref.get("hook.gate.out0"), T);
                for (int t = 0; t < T; t++) ok[t] &= l[t];
            }
            int n = 0;
            for (boolean b : ok) if (b) n++;
            if (n == 0) Assumptions.abort("cannot check the router of " + Golden.name(file) + ": no token has finite reference router outputs");
            return ok;
        }

        /** After a partial check that passed: aborts, saying how many tokens could not be checked and why. */
        void abortIfPartial(String what, boolean[] tokens) {
            int skipped = 0;
            for (boolean b : tokens) if (!b) skipped++;
            if (skipped == 0) return;
            List<String> why = new ArrayList<>();
            for (String n : isSwitch ? List.of("hook.router.out2") : List.of("hook.gate.out0", "hook.gate.out1")) {
                if (ref.containsKey(n)) {
                    String u = Golden.unsound(n, ref.get(n));
                    if (u != null) why.add("reference " + u);
                }
            }
            Assumptions.abort(what + " of " + Golden.name(file) + ": the " + (tokens.length - skipped) + " checkable tokens agree, but "
                    + skipped + " of " + tokens.length + " tokens cannot be checked: " + String.join("; ", why));
        }

        // ------------------------------------------------------------------ router checks

        void routerLogits() throws IOException {
            boolean[] tokens = checkableTokens("hook.gate.out0");
            Tensor got = run().routing().logits(), want = require("hook.gate.out0");
            assertEquals(want.numel(), got.numel(), "router logits " + Arrays.toString(got.shape()) + " vs reference " + Arrays.toString(want.shape()));
            double err = Golden.relativeError(Golden.rows(got.toDoubleArray(), tokens), Golden.rows(want.toDoubleArray(), tokens));
            report("hook.gate.out0", err, Tolerances.OUTPUT);
            assertTrue(err <= Tolerances.OUTPUT, "router logits: relative error " + err + " exceeds " + Tolerances.OUTPUT);
            abortIfPartial("router logits", tokens);
        }

        void sharedGate() throws IOException {
            Set<String> deps = new LinkedHashSet<>(List.of("input", "param.shared_expert_gate.weight"));
            Tensor got = run().sharedGateLogits();
            assertNotNull(got, "the layer has no shared expert gate");
            compare("hook.shared_expert_gate.out", deps, got, Tolerances.OUTPUT);
        }

        void expertChoices() throws IOException {
            if (isSwitch) {
                switchChoices();
                return;
            }
            String idsName = "hook.gate.out2";
            boolean[] tokens = checkableTokens("hook.gate.out1");
            Routing r = run().routing();
            long[] want = require(idsName).toLongArray();
            int k = r.topK(), T = r.numTokens();
            assertEquals(T * k, want.length, idsName + " has " + want.length + " ids for T = " + T + ", k = " + k);
            double[] scores = r.scores().toDoubleArray();
            double[] bias = r.selectionBias();
            int E = r.scores().size(1), ties = 0;
            List<String> wrong = new ArrayList<>();
            for (int t = 0; t < T; t++) {
                if (!tokens[t]) continue;
                int[] mine = Arrays.copyOfRange(r.expertIds(), t * k, t * k + k);
                int[] theirs = new int[k];
                for (int j = 0; j < k; j++) theirs[j] = (int) want[t * k + j];
                if (sameSet(mine, theirs)) continue;
                double[] a = choiceScores(mine, scores, bias, t, E), b = choiceScores(theirs, scores, bias, t, E);
                if (equalScores(a, b)) {
                    ties++;
                } else {
                    wrong.add("token " + t + ": chose " + Arrays.toString(mine) + " (scores " + Arrays.toString(a) + "), reference "
                            + Arrays.toString(theirs) + " (scores " + Arrays.toString(b) + ")");
                }
            }
            assertTrue(wrong.isEmpty(), wrong.size() + " of " + T + " tokens chose other experts (" + ties + " tie-broken differently, accepted): "
                    + String.join("; ", wrong.subList(0, Math.min(5, wrong.size()))));
            if (ties > 0) System.out.printf("%s expert choices: %d tokens broke exact score ties differently from the reference (accepted)%n", Golden.name(file), ties);
            abortIfPartial("expert choices", tokens);
        }

        void switchChoices() throws IOException {
            boolean[] tokens = checkableTokens(ref.containsKey("hook.router.out2") ? "hook.router.out2" : "hook.router.out0");
            Routing r = run().routing();
            Tensor mask = require("hook.router.out1");
            int E = mask.size(-1), T = r.numTokens();
            long[] m = mask.toLongArray();
            assertEquals((long) T * E, m.length, "hook.router.out1 does not hold [T, 1, E] for T = " + T);
            double[] scores = r.scores().toDoubleArray();
            List<String> wrong = new ArrayList<>();
            for (int t = 0; t < T; t++) {
                if (!tokens[t]) continue;
                int theirs = -1;
                for (int e = 0; e < E; e++) if (m[t * E + e] != 0) theirs = e;
                int mine = r.expertIds()[t];
                boolean kept = r.plan().pairToRow()[t] >= 0;
                if (theirs < 0) {
                    if (kept) wrong.add("token " + t + ": kept by expert " + mine + ", the reference dropped it");
                } else if (!kept) {
                    wrong.add("token " + t + ": dropped, the reference kept it for expert " + theirs);
                } else if (mine != theirs && !tie(scores[t * E + mine], scores[t * E + theirs])) {
                    wrong.add("token " + t + ": expert " + mine + ", reference " + theirs);
                }
            }
            assertTrue(wrong.isEmpty(), wrong.size() + " of " + T + " tokens routed differently: " + String.join("; ", wrong.subList(0, Math.min(5, wrong.size()))));
            abortIfPartial("expert choices", tokens);
        }

        void routerWeights() throws IOException {
            String name = isSwitch ? "hook.router.out2" : "hook.gate.out1";
            boolean[] tokens = checkableTokens(name);
            Routing r = run().routing();
            double[] mine = r.weights().toDoubleArray(), theirs = require(name).toDoubleArray();
            int k = r.topK(), T = r.numTokens();
            assertEquals(mine.length, theirs.length, name + " size");
            double[] got = new double[theirs.length];
            if (isSwitch) {
                got = mine;
            } else {
                long[] refIds = require("hook.gate.out2").toLongArray();
                for (int t = 0; t < T; t++) {
                    int[] ids = Arrays.copyOfRange(r.expertIds(), t * k, t * k + k);
                    int[] rid = new int[k];
                    for (int j = 0; j < k; j++) rid[j] = (int) refIds[t * k + j];
                    if (sameSet(ids, rid)) {
                        for (int j = 0; j < k; j++) {
                            for (int i = 0; i < k; i++) if (ids[i] == rid[j]) got[t * k + j] = mine[t * k + i];
                        }
                    } else {
                        // a tie broken differently: compare the weights as sorted lists
                        double[] a = Arrays.copyOfRange(mine, t * k, t * k + k), b = Arrays.copyOfRange(theirs, t * k, t * k + k);
                        Arrays.sort(a);
                        Integer[] order = new Integer[k];
                        for (int j = 0; j < k; j++) order[j] = j;
                        Arrays.sort(order, (p, q) -> Double.compare(b[p], b[q]));
                        for (int j = 0; j < k; j++) got[t * k + order[j]] = a[j];
                    }
                }
            }
            double err = Golden.relativeError(Golden.rows(got, tokens), Golden.rows(theirs, tokens));
            report(name, err, Tolerances.OUTPUT);
            assertTrue(err <= Tolerances.OUTPUT, name + ": relative error " + err + " exceeds " + Tolerances.OUTPUT);
            abortIfPartial("router weights", tokens);
        }

        // ------------------------------------------------------------------ helpers

        static boolean sameSet(int[] a, int[] b) {
            int[] x = a.clone(), y = b.clone();
            Arrays.sort(x);
            Arrays.sort(y);
            return Arrays.equals(x, y);
        }

        /** The selection scores (score + bias) of the given experts for token t, sorted. */
        static double[] choiceScores(int[] ids, double[] scores, double[] bias, int t, int E) {
            double[] out = new double[ids.length];
            for (int j = 0; j < ids.length; j++) {
                int e = ids[j];
                out[j] = e < 0 || e >= E ? Double.NaN : scores[t * E + e] + (bias == null ? 0 : bias[e]);
            }
            Arrays.sort(out);
            return out;
        }

        static boolean equalScores(double[] a, double[] b) {
            for (int i = 0; i < a.length; i++) if (!tie(a[i], b[i])) return false;
            return true;
        }

        static boolean tie(double a, double b) {
            return Math.abs(a - b) <= Tolerances.TIE * Math.max(1, Math.max(Math.abs(a), Math.abs(b)));
        }
    }
}
