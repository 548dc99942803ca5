package dev.moe4j.bench;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Activation;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Sequential;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The cost of the autograd tape on a small MLP: {@code layers} blocks of Linear(width, width) + ReLU
 * on a batch [batch, width] in F32, loss = MSE against a fixed target.
 *
 * <ul>
 *   <li>{@code forwardNoGrad}: the forward inside a {@code NoGrad} scope, nothing recorded (the baseline);</li>
 *   <li>{@code forwardRecorded}: the same forward with the graph recorded (nodes, saved tensors);</li>
 *   <li>{@code forwardBackward}: a training step without the update: recorded forward, loss, backward;</li>
 *   <li>{@code tapeOnly}: the same step on a model of width 1 and batch 1, where the arithmetic is
 *       negligible: an upper bound of the bookkeeping (graph building, topological sort, gradient
 *       routing) per step, the same number of nodes.</li>
 * </ul>
 *
 * Derived figures, printed by {@link #main}: tape overhead of the forward
 * {@code (forwardRecorded - forwardNoGrad) / forwardNoGrad}; backward over forward
 * {@code (forwardBackward - forwardRecorded) / forwardNoGrad} (about 2 for GEMM-bound layers, since
 * the backward does two GEMMs per forward GEMM); bookkeeping share {@code tapeOnly / forwardBackward}.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar AutogradBenchmark}, or the derived figures with
 * {@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.moe4j.bench.AutogradBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class AutogradBenchmark {

    /** Rows of the batch. */
    @Param({"256"})
    public int batch;

    /** Width of every layer. */
    @Param({"512"})
    public int width;

    /** Number of Linear + ReLU blocks. */
    @Param({"4"})
    public int layers;

    private Sequential model, tinyModel;
    private Tensor x, target, tinyX, tinyTarget;

    @Setup
    public void setup() {
        Generator gen = new Generator(42);
        model = mlp(width, layers, gen);
        tinyModel = mlp(1, layers, gen);
        x = Tensor.randn(gen, DType.F32, batch, width);
        target = Tensor.randn(gen, DType.F32, batch, width);
        tinyX = Tensor.randn(gen, DType.F32, 1, 1);
        tinyTarget = Tensor.randn(gen, DType.F32, 1, 1);
    }

    private static Sequential mlp(int width, int layers, Generator gen) {
        Sequential s = new Sequential();
        for (int i = 0; i < layers; i++) {
            s.add(new Linear(width, width, true, DType.F32, gen));
            s.add(Activation.relu());
        }
        return s;
    }

    /** Forward without recording: the baseline. */
    @Benchmark
    public Tensor forwardNoGrad() {
        try (NoGrad scope = NoGrad.enter()) {
            return F.mseLoss(model.forward(x), target);
        }
    }

    /** Forward with the graph recorded (not run backwards). */
    @Benchmark
    public Tensor forwardRecorded() {
        return F.mseLoss(model.forward(x), target);
    }

    /** Recorded forward, loss and backward (gradients cleared first, as a training loop does). */
    @Benchmark
    public Tensor forwardBackward() {
        model.zeroGrad();
        Tensor loss = F.mseLoss(model.forward(x), target);
        Autograd.backward(loss);
        return model.parameters().get(0).grad();
    }

    /** The same step on a width-1 model: bookkeeping with negligible arithmetic. */
    @Benchmark
    public Tensor tapeOnly() {
        tinyModel.zeroGrad();
        Tensor loss = F.mseLoss(tinyModel.forward(tinyX), tinyTarget);
        Autograd.backward(loss);
        return tinyModel.parameters().get(0).grad();
    }

    /** Runs the four benchmarks and prints the derived figures. */
    public static void main(String[] args) throws Exception {
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(AutogradBenchmark.class.getSimpleName())
                .build()).run();
        Map<String, Double> ms = new HashMap<>();
        for (RunResult r : results) {
            String label = r.getPrimaryResult().getLabel();
            ms.put(label, r.getPrimaryResult().getScore());
        }
        double noGrad = ms.get("forwardNoGrad"), recorded = ms.get("forwardRecorded");
        double step = ms.get("forwardBackward"), tape = ms.get("tapeOnly");
        System.out.printf("forward (no grad)      %.3f ms%n", noGrad);
        System.out.printf("forward (recorded)     %.3f ms  tape overhead %.1f %%%n", recorded, 100 * (recorded - noGrad) / noGrad);
        System.out.printf("forward + backward     %.3f ms  backward / forward = %.2f%n", step, (step - recorded) / noGrad);
        System.out.printf("bookkeeping (width 1)  %.4f ms  = %.2f %% of the step%n", tape, 100 * tape / step);
    }
}
