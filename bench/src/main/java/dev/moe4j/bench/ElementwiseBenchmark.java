package dev.moe4j.bench;

import dev.moe4j.kernels.cpu.BinaryKernels;
import dev.moe4j.kernels.cpu.BinaryOp;
import dev.moe4j.kernels.cpu.ReduceKernels;
import dev.moe4j.kernels.cpu.SoftmaxKernels;
import dev.moe4j.kernels.cpu.UnaryKernels;
import dev.moe4j.kernels.cpu.UnaryOp;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import dev.moe4j.bench.report.BenchmarkReport;
import dev.moe4j.bench.report.HtmlReport;

import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Memory-bound elementwise kernels on N = 4,194,304 floats (16 MiB per array), next to
 * {@link System#arraycopy} of the same array measured in the same run.
 *
 * <p>Each {@code @Benchmark} method runs one kernel once over the whole array (row kernels on a
 * contiguous run; softmax over rows of {@value #ROW}). Scores are milliseconds per call. To turn a
 * score into bandwidth, divide the bytes the kernel must move by the time:
 * <pre>
 *   GB/s = bytes / (ms * 1e6)
 *   arraycopy  8 N   (read x, write out)
 *   add       12 N   (read a, read b, write out)
 *   exp, silu, gelu, softmax   8 N   (read x, write out; softmax's extra passes hit the cache)
 *   sum        4 N   (read x)
 * </pre>
 * Running this class's {@link #main} does that: it runs the benchmarks (a regex argument selects
 * some) and prints a table of GB/s and the fraction of the arraycopy bandwidth. The
 * {@code *Reference} methods run the scalar reference kernels, to show what the Vector API adds.
 *
 * <pre>
 *   mvn -B -ntp -q -pl bench -am package -DskipTests
 *   java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.moe4j.bench.ElementwiseBenchmark [regex] [--report path.html]
 * </pre>
 * With {@code --report path} the table is also written as an HTML report: each kernel's GB/s as a
 * bar beside arraycopy's (the path is checked before the benchmarks run).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class ElementwiseBenchmark {
    /** Elements per array. */
    static final int N = 4 * 1024 * 1024;
    /** Row length of the softmax benchmark ([N / ROW, ROW]). */
    static final int ROW = 4096;

    float[] a, b, out;

    /** Fills the inputs with N(0, 1)-ish values (bounded, so exp stays finite). */
    @Setup
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(42);
        a = new float[N];
        b = new float[N];
        out = new float[N];
        for (int i = 0; i < N; i++) {
            a[i] = (float) (rnd.nextDouble() * 6 - 3);
            b[i] = (float) (rnd.nextDouble() * 6 - 3);
        }
    }

    /** Baseline: copy N floats. */
    @Benchmark
    public float[] arraycopy() {
        System.arraycopy(a, 0, out, 0, N);
        return out;
    }

    /** out = a + b. */
    @Benchmark
    public float[] add() {
        BinaryKernels.apply(BinaryOp.ADD, a, 0, 1, b, 0, 1, out, 0, N);
        return out;
    }

    /** out = a + b, scalar reference. */
    @Benchmark
    public float[] addReference() {
        BinaryKernels.applyReference(BinaryOp.ADD, a, 0, 1, b, 0, 1, out, 0, N);
        return out;
    }

    /** out = exp(a). */
    @Benchmark
    public float[] exp() {
        UnaryKernels.apply(UnaryOp.EXP, a, 0, 1, out, 0, N);
        return out;
    }

    /** out = exp(a), scalar reference. */
    @Benchmark
    public float[] expReference() {
        UnaryKernels.applyReference(UnaryOp.EXP, a, 0, 1, out, 0, N);
        return out;
    }

    /** out = silu(a). */
    @Benchmark
    public float[] silu() {
        UnaryKernels.apply(UnaryOp.SILU, a, 0, 1, out, 0, N);
        return out;
    }

    /** out = gelu(a), exact (erf) form on double lanes. */
    @Benchmark
    public float[] gelu() {
        UnaryKernels.apply(UnaryOp.GELU, a, 0, 1, out, 0, N);
        return out;
    }

    /** Sum of a. */
    @Benchmark
    public float sum() {
        return ReduceKernels.sum(a, 0, 1, N);
    }

    /** Sum of a, scalar pairwise reference. */
    @Benchmark
    public float sumReference() {
        return ReduceKernels.sumReference(a, 0, 1, N);
    }

    /** Softmax of each row of a viewed as [N / ROW, ROW]. */
    @Benchmark
    public float[] softmax() {
        for (int r = 0; r < N; r += ROW) SoftmaxKernels.softmax(a, r, 1, out, r, 1, ROW);
        return out;
    }

    /** Softmax rows, scalar reference. */
    @Benchmark
    public float[] softmaxReference() {
        for (int r = 0; r < N; r += ROW) SoftmaxKernels.softmaxReference(a, r, 1, out, r, 1, ROW);
        return out;
    }

    /** Bytes each benchmark must move per call (see the class comment). */
    static long bytesMoved(String benchmark) {
        String name = benchmark.replace("Reference", "");
        return switch (name) {
            case "add" -> 12L * N;
            case "sum" -> 4L * N;
            default -> 8L * N;
        };
    }

    /**
     * Runs the benchmarks (all, or those matching {@code args[0]}, arraycopy always included) and
     * prints ms/call, GB/s and the fraction of arraycopy's bandwidth.
     */
    public static void main(String[] args) throws Exception {
        String include = ".*";
        Path report = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--report") && i + 1 < args.length) report = Path.of(args[++i]);
            else if (args[i].startsWith("--")) {
                System.err.println("ElementwiseBenchmark: unknown option " + args[i] + "\nusage: ElementwiseBenchmark [regex] [--report path.html]");
                System.exit(2);
            } else include = args[i];
        }
        if (report != null) {
            try {
                HtmlReport.requireWritable(report);
            } catch (IllegalArgumentException e) {
                System.err.println("ElementwiseBenchmark: " + e.getMessage());
                System.exit(2);
            }
        }
        Options options = new OptionsBuilder()
                .include(ElementwiseBenchmark.class.getName() + ".(" + include + "|arraycopy)$")
                .build();
        Collection<RunResult> results = new Runner(options).run();
        Map<String, Double> msPerCall = new LinkedHashMap<>();
        for (RunResult r : results) {
            String label = r.getParams().getBenchmark();
            msPerCall.put(label.substring(label.lastIndexOf('.') + 1), r.getPrimaryResult().getScore());
        }
        Double copyMs = msPerCall.get("arraycopy");
        double copyGbs = copyMs == null ? Double.NaN : bytesMoved("arraycopy") / (copyMs * 1e6);
        System.out.printf("%n%-18s %10s %10s %12s%n", "kernel (N=" + N + ")", "ms/call", "GB/s", "vs arraycopy");
        BenchmarkReport html = new BenchmarkReport("moe4j elementwise kernels beside System.arraycopy", "bandwidth", "GB/s", "kernel",
                "System.arraycopy");
        for (Map.Entry<String, Double> e : msPerCall.entrySet()) {
            double gbs = bytesMoved(e.getKey()) / (e.getValue() * 1e6);
            System.out.printf("%-18s %10.3f %10.2f %11.0f%%%n", e.getKey(), e.getValue(), gbs, 100 * gbs / copyGbs);
            if (!e.getKey().equals("arraycopy")) html.add(e.getKey(), gbs, copyGbs);
        }
        if (report != null && msPerCall.size() > 1) {
            html.note("N = " + N + " floats per array; GB/s = bytes the kernel must move / time (see the class comment). Machine: "
                    + Runtime.getRuntime().availableProcessors() + " cores, Java " + System.getProperty("java.version") + ".");
            html.html().write(report);
            System.out.println("report written to " + report.toAbsolutePath());
        }
    }
}
