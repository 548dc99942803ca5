package dev.moe4j.tests;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.ops.Reduction;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.fail;

/**
 * Conformance of the autograd ops with PyTorch: for every {@code *_autograd_ops.safetensors} in the
 * reference folder (system property {@code golden.dir}), one test named after the file runs each
 * case {@code c} of it: inputs {@code c.in<j>} (I64 ones are indices), output {@code c.out},
 * upstream gradient {@code c.dout}, input gradients {@code c.din<j>}.
 *
 * <p>Each case runs twice: in F64 (output and gradients within 1e-10 relative error,
 * ||got - want|| / ||want||) and in F32 (1e-5 for the output, 1e-4 for the gradients). A case name
 * without a definition here fails by name, so no reference case is skipped silently.
 *
 * <p>Sizes come from the tensors. Op parameters come from the file too: a reduced dim from the
 * output shape, k of top-k from the output shape, an ignored target value from the targets, label
 * smoothing and output scale by least squares on the stored output; where several readings fit
 * the shapes (a dim, a reduction), the one whose float64 output matches the file is taken.
 * Constants that the file cannot tell are PyTorch's defaults (layer-norm eps 1e-5, softmax over the
 * last dim) or, for rms norm, eps 1e-6, the value models with RMSNorm use and the reference used.
 */
class AutogradOpsConformanceTest {
    private static final double F64_TOL = 1e-10;
    private static final double F32_OUT_TOL = 1e-5;
    private static final double F32_GRAD_TOL = 1e-4;

    /** The reference folder: {@code golden.dir}, else {@code ../shared/golden} from the project root. */
    static Path goldenDir() {
        String prop = System.getProperty("golden.dir");
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        Path cwd = Path.of("").toAbsolutePath();
        for (Path p = cwd; p != null; p = p.getParent()) {
            if (Files.exists(p.resolve("pom.xml")) && Files.isDirectory(p.resolve("tests"))) return p.resolve("../shared/golden").normalize();
        }
        return cwd.resolve("../shared/golden").normalize();
    }

    @TestFactory
    Stream<DynamicTest> referenceFiles() throws IOException {
        Path dir = goldenDir();
        if (!Files.isDirectory(dir)) fail("reference folder " + dir + " does not exist (set -Dgolden.dir)");
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith("_autograd_ops.safetensors")).sorted().toList();
        }
        if (files.isEmpty()) fail("no *_autograd_ops.safetensors in " + dir);
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), f.toUri(), () -> runFile(f)));
    }

    // ------------------------------------------------------------------ running a file

    private static void runFile(Path file) throws IOException {
        Map<String, Map<String, Tensor>> cases = new TreeMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (String name : st.names()) {
                int dot = name.lastIndexOf('.');
                if (dot <= 0) throw new AssertionError(file.getFileName() + ": tensor name '" + name + "' is not <case>.<part>");
                cases.computeIfAbsent(name.substring(0, dot), k -> new LinkedHashMap<>()).put(name.substring(dot + 1), st.tensor(name));
            }
        }
        List<String> failures = new ArrayList<>();
        int passed = 0;
        for (Map.Entry<String, Map<String, Tensor>> c : cases.entrySet()) {
            String name = c.getKey();
            CaseDef def = CASES.get(name);
            if (def == null) {
                failures.add(name + ": unknown case (no definition in this test)");
                continue;
            }
            try {
                Ref ref = new Ref(name, c.getValue());
                Op op = def.derive(ref);
                List<String> errs = new ArrayList<>();
                errs.addAll(runCase(ref, op, DType.F64, F64_TOL, F64_TOL));
                errs.addAll(runCase(ref, op, DType.F32, F32_OUT_TOL, F32_GRAD_TOL));
                if (errs.isEmpty()) passed++;
                else failures.add(name + ": " + String.join("; ", errs));
            } catch (RuntimeException | AssertionError e) {
                failures.add(name + ": " + e);
            }
        }
        System.out.println(file.getFileName() + ": " + passed + " of " + cases.size() + " cases pass in F64 and F32");
        if (!failures.isEmpty()) {
            fail(file.getFileName() + ": " + failures.size() + " of " + cases.size() + " cases fail:\n  " + String.join("\n  ", failures));
        }
    }

    /** Runs one case in {@code dtype}; returns the failures. */
    private static List<String> runCase(Ref ref, Op op, DType dtype, double outTol, double gradTol) {
        List<String> errs = new ArrayList<>();
        Tensor[] in = ref.inputs(dtype, true);
        Tensor y = op.apply(in);
        Tensor want = ref.get("out");
        String where = dtype + " ";
        if (y.numel() != want.numel()) {
            errs.add(where + "output shape " + Shape.str(y.shape()) + ", reference " + Shape.str(want.shape()));
            return errs;
        }
        double e = relErr(y, want);
        if (!(e <= outTol)) errs.add(where + "output rel err " + e);
        Tensor dout = ref.get("dout").reshape(y.shape()).to(y.dtype());
        if (y.requiresGrad()) Autograd.backward(y, dout);
        for (int j = 0; j < in.length; j++) {
            Tensor dWant = ref.find("din" + j);
            if (dWant == null) continue;
            Tensor got = in[j].grad();
            if (got == null) {
                errs.add(where + "no gradient for input " + j);
                continue;
            }
            if (!Arrays.equals(got.shape(), dWant.shape())) {
                errs.add(where + "gradient " + j + " shape " + Shape.str(got.shape()) + ", reference " + Shape.str(dWant.shape()));
                continue;
            }
            double ge = relErr(got, dWant);
            if (!(ge <= gradTol)) errs.add(where + "din" + j + " rel err " + ge);
        }
        return errs;
    }

    /** ||got - want|| / ||want|| (the plain norm of the difference when want is zero). */
    static double relErr(Tensor got, Tensor want) {
        double[] g = got.toDoubleArray(), w = want.toDoubleArray();
        double num = 0, den = 0;
        for (int i = 0; i < g.length; i++) {
            num += (g[i] - w[i]) * (g[i] - w[i]);
            den += w[i] * w[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    // ------------------------------------------------------------------ case definitions

    /** The tensors of one case. */
    record Ref(String name, Map<String, Tensor> parts) {
        Tensor get(String part) {
            Tensor t = parts.get(part);
            if (t == null) throw new AssertionError("case " + name + " has no tensor '" + part + "'");
            return t;
        }

        Tensor find(String part) { return parts.get(part); }

        int numInputs() {
            int n = 0;
            while (parts.containsKey("in" + n)) n++;
            return n;
        }

        Tensor in(int j) { return get("in" + j); }

        int[] outShape() { return get("out").shape(); }

        /** Fresh inputs: floating ones converted to {@code dtype} (and requiring gradients), indices as stored. */
        Tensor[] inputs(DType dtype, boolean requiresGrad) {
            Tensor[] in = new Tensor[numInputs()];
            for (int j = 0; j < in.length; j++) {
                Tensor t = in(j);
                if (t.dtype().isFloatingPoint()) {
                    Tensor c = t.to(dtype).copy();
                    in[j] = requiresGrad ? c.setRequiresGrad(true) : c;
                } else {
                    in[j] = t;
                }
            }
            return in;
        }

        /** The candidate whose F64 forward is closest to the stored output. */
        <P> P best(List<P> candidates, Function<P, Op> make) {
            if (candidates.isEmpty()) throw new AssertionError("case " + name + ": no op reading fits the shapes");
            if (candidates.size() == 1) return candidates.get(0);
            P best = null;
            double bestErr = Double.POSITIVE_INFINITY;
            for (P p : candidates) {
                double e;
                try (NoGrad scope = NoGrad.enter()) {
                    Tensor y = make.apply(p).apply(inputs(DType.F64, false));
                    e = y.numel() == get("out").numel() ? relErr(y, get("out")) : Double.POSITIVE_INFINITY;
                } catch (RuntimeException ex) {
                    e = Double.POSITIVE_INFINITY;
                }
                if (e < bestErr) {
                    bestErr = e;
                    best = p;
                }
            }
            if (best == null) throw new AssertionError("case " + name + ": no candidate reading " + candidates + " runs");
            return best;
        }
    }

    /** A computation from the inputs. */
    @FunctionalInterface
    interface Op {
        Tensor apply(Tensor[] in);
    }

    /** Reads the op's parameters from the case. */
    @FunctionalInterface
    interface CaseDef {
        Op derive(Ref ref);
    }

    /** The dims of {@code in} whose removal (or reduction to 1 when keepDim) gives {@code out}. */
    static List<int[]> reducedDims(int[] in, int[] out) {
        List<int[]> c = new ArrayList<>();
        for (int d = 0; d < in.length; d++) {
            int[] removed = new int[in.length - 1];
            for (int i = 0, k = 0; i < in.length; i++) if (i != d) removed[k++] = in[i];
            int[] kept = in.clone();
            kept[d] = 1;
            if (Arrays.equals(out, removed)) c.add(new int[] {d, 0});
            if (Arrays.equals(out, kept)) c.add(new int[] {d, 1});
        }
        return c;
    }

    /** A reduction over one dim, the dim and keepDim read from the shapes. */
    static CaseDef reduction(ReduceOp r) {
        return ref -> {
            int[] p = ref.best(reducedDims(ref.in(0).shape(), ref.outShape()), q -> in -> r.apply(in[0], q[0], q[1] == 1));
            return in -> r.apply(in[0], p[0], p[1] == 1);
        };
    }

    @FunctionalInterface
    interface ReduceOp {
        Tensor apply(Tensor x, int dim, boolean keepDim);
    }

    /** The dim along which the F64 output satisfies {@code test} (softmax rows sum to 1, ...), else the last. */
    static int dimWhere(Ref ref, Function<Integer, Tensor> residual) {
        int rank = ref.in(0).rank();
        for (int d = rank - 1; d >= 0; d--) {
            double[] r = residual.apply(d).toDoubleArray();
            boolean ok = true;
            for (double v : r) ok &= Math.abs(v) < 1e-9;
            if (ok) return d;
        }
        return rank - 1;
    }

    /** Least-squares s with {@code want ~ s * base}. */
    static double fitScale(Tensor base, Tensor want) {
        double[] b = base.toDoubleArray(), w = want.toDoubleArray();
        double num = 0, den = 0;
        for (int i = 0; i < b.length; i++) {
            num += b[i] * w[i];
            den += b[i] * b[i];
        }
        return den == 0 ? 1 : num / den;
    }

    static CaseDef unary(Function<Tensor, Tensor> f) { return ref -> in -> f.apply(in[0]); }

    static final Map<String, CaseDef> CASES = new LinkedHashMap<>();

    static {
        CASES.put("add_broadcast", ref -> in -> F.add(in[0], in[1]));
        CASES.put("mul_broadcast", ref -> in -> F.mul(in[0], in[1]));
        CASES.put("div", ref -> in -> F.div(in[0], in[1]));
        CASES.put("exp", unary(F::exp));
        CASES.put("log", unary(F::log));
        CASES.put("sqrt", unary(F::sqrt));
        CASES.put("relu", unary(F::relu));
        CASES.put("gelu", unary(F::gelu));
        CASES.put("gelu_tanh", unary(F::geluTanh));
        CASES.put("sigmoid", unary(F::sigmoid));
        CASES.put("silu", unary(F::silu));
        CASES.put("tanh", unary(F::tanh));
        CASES.put("softmax", ref -> {
            Tensor out = ref.get("out");
            int dim = dimWhere(ref, d -> out.sum(d, false).sub(1.0));
            return in -> F.softmax(in[0], dim);
        });
        CASES.put("log_softmax", ref -> {
            Tensor out = ref.get("out");
            int dim = dimWhere(ref, d -> out.logsumexp(d, false));
            return in -> F.logSoftmax(in[0], dim);
        });
        CASES.put("logsumexp", reduction(F::logsumexp));
        CASES.put("max_dim", reduction(F::max));
        CASES.put("mean_keepdim", reduction(F::mean));
        CASES.put("sum_dim", reduction(F::sum));
        CASES.put("matmul_2d", ref -> in -> F.matmul(in[0], in[1]));
        CASES.put("matmul_batched", ref -> in -> F.matmul(in[0], in[1]));
        CASES.put("matmul_broadcast", ref -> in -> F.matmul(in[0], in[1]));
        CASES.put("linear", ref -> in -> F.linear(in[0], in[1], in.length > 2 ? in[2] : null));
        CASES.put("embedding", ref -> in -> F.embedding(in[0], in[1]));
        CASES.put("swiglu", ref -> in -> F.swiglu(in[0], in[1], in[2], in[3]));
        CASES.put("layer_norm", ref -> {
            int[] normalized = ref.in(1).shape();
            return in -> F.layerNorm(in[0], normalized, in[1], in.length > 2 ? in[2] : null, 1e-5);
        });
        CASES.put("rms_norm", ref -> {
            int[] normalized = ref.in(1).shape();
            return in -> F.rmsNorm(in[0], normalized, in[1], 1e-6);
        });
        CASES.put("gather", ref -> {
            int[] xs = ref.in(0).shape(), is = ref.in(1).shape();
            List<Integer> dims = new ArrayList<>();
            for (int d = 0; d < xs.length; d++) {
                boolean fits = true;
                for (int k = 0; k < xs.length; k++) if (k != d && is[k] > xs[k]) fits = false;
                if (fits) dims.add(d);
            }
            int dim = ref.best(dims, d -> in -> F.gather(in[0], d, in[1]));
            return in -> F.gather(in[0], dim, in[1]);
        });
        CASES.put("index_select", ref -> {
            int[] xs = ref.in(0).shape(), os = ref.outShape();
            int n = ref.in(1).numel();
            List<Integer> dims = new ArrayList<>();
            for (int d = 0; d < xs.length; d++) {
                int[] want = xs.clone();
                want[d] = n;
                if (Arrays.equals(want, os)) dims.add(d);
            }
            int dim = ref.best(dims, d -> in -> F.indexSelect(in[0], d, in[1]));
            return in -> F.indexSelect(in[0], dim, in[1]);
        });
        CASES.put("index_add", ref -> {
            int[] xs = ref.in(0).shape(), ss = ref.in(2).shape();
            int n = ref.in(1).numel();
            List<Integer> dims = new ArrayList<>();
            for (int d = 0; d < xs.length; d++) {
                int[] want = xs.clone();
                want[d] = n;
                if (Arrays.equals(want, ss)) dims.add(d);
            }
            int dim = ref.best(dims, d -> in -> F.indexAdd(in[0], d, in[1], in[2]));
            return in -> F.indexAdd(in[0], dim, in[1], in[2]);
        });
        CASES.put("topk_values", ref -> {
            int[] xs = ref.in(0).shape(), os = ref.outShape();
            List<int[]> readings = new ArrayList<>();   // {dim, k, largest}
            for (int d = 0; d < xs.length; d++) {
                boolean others = true;
                for (int i = 0; i < xs.length; i++) if (i != d && xs[i] != os[i]) others = false;
                if (others && os[d] <= xs[d]) {
                    readings.add(new int[] {d, os[d], 1});
                    readings.add(new int[] {d, os[d], 0});
                }
            }
            int[] p = ref.best(readings, q -> in -> F.topk(in[0], q[1], q[0], q[2] == 1).values());
            return in -> F.topk(in[0], p[1], p[0], p[2] == 1).values();
        });
        CASES.put("transpose_reshape", ref -> {
            int rank = ref.in(0).rank();
            int[] os = ref.outShape();
            List<int[]> pairs = new ArrayList<>();
            for (int a = 0; a < rank; a++) for (int b = a + 1; b < rank; b++) pairs.add(new int[] {a, b});
            int[] t = ref.best(pairs, q -> in -> F.reshape(F.transpose(in[0], q[0], q[1]), os));
            Tensor base = ref.in(0).transpose(t[0], t[1]).reshape(os);
            double scale = fitScale(base, ref.get("out"));
            return in -> F.mul(F.reshape(F.transpose(in[0], t[0], t[1]), os), scale);
        });
        CASES.put("mse_loss", ref -> {
            boolean none = Arrays.equals(ref.outShape(), ref.in(0).shape()) && ref.in(0).numel() > 1;
            List<Reduction> rs = none ? List.of(Reduction.NONE) : List.of(Reduction.MEAN, Reduction.SUM);
            Reduction r = ref.best(rs, q -> in -> F.mseLoss(in[0], in[1], q));
            return in -> F.mseLoss(in[0], in[1], r);
        });
        CASES.put("cross_entropy", AutogradOpsConformanceTest::crossEntropy);
        CASES.put("cross_entropy_smooth", AutogradOpsConformanceTest::crossEntropy);
    }

    /**
     * Cross-entropy: the ignored target is the one target value outside [0, C) (PyTorch's -100 when
     * none is); the reduction is NONE for a per-sample output, else MEAN or SUM, whichever the output
     * matches; the label smoothing e is read off the output, which is linear in e:
     * out = L(0) + e (L(1) - L(0)), solved by least squares.
     */
    private static Op crossEntropy(Ref ref) {
        Tensor logits = ref.in(0), target = ref.in(1);
        int n = logits.size(0), c = logits.size(-1);
        long ignore = -100;
        for (long t : target.toLongArray()) if (t < 0 || t >= c) ignore = t;
        long ignoreIndex = ignore;
        boolean perSample = ref.get("out").numel() == n && n > 1;
        List<Reduction> rs = perSample ? List.of(Reduction.NONE) : List.of(Reduction.MEAN, Reduction.SUM);
        Tensor x = logits.to(DType.F64);
        Reduction r = ref.best(rs, q -> {
            double e = smoothingFor(x, target, ignoreIndex, q, ref.get("out"));
            return in -> F.crossEntropy(in[0], in[1], ignoreIndex, e, q);
        });
        double e = smoothingFor(x, target, ignoreIndex, r, ref.get("out"));
        return in -> F.crossEntropy(in[0], in[1], ignoreIndex, e, r);
    }

    private static double smoothingFor(Tensor logits, Tensor target, long ignore, Reduction r, Tensor out) {
        try (NoGrad scope = NoGrad.enter()) {
            Tensor l0 = F.crossEntropy(logits, target, ignore, 0.0, r);
            Tensor l1 = F.crossEntropy(logits, target, ignore, 1.0, r);
            double[] a = l0.toDoubleArray(), b = l1.toDoubleArray(), o = out.toDoubleArray();
            double num = 0, den = 0;
            for (int i = 0; i < a.length; i++) {
                num += (o[i] - a[i]) * (b[i] - a[i]);
                den += (b[i] - a[i]) * (b[i] - a[i]);
            }
            double e = den == 0 ? 0 : num / den;
            return Math.min(1, Math.max(0, e));
        }
    }
}
