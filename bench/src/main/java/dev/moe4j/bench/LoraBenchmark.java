package dev.moe4j.bench;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.lora.AdapterSpec;
import dev.moe4j.lora.LoraInit;
import dev.moe4j.lora.LoraLinear;
import dev.moe4j.lora.SegmentedLora;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

/**
 * LoRA costs, in milliseconds per call (F32), sampled per call so that the median (p0.50) can be
 * read beside the mean: on a machine shared with other work the mean is pulled up by stalls.
 *
 * <h2>Adapter overhead</h2>
 * A frozen {@code Linear(1024, 1024)} on T = 512 tokens, forward and backward (upstream gradient
 * given): {@code baseForwardBackward} computes the input gradient only (W frozen);
 * {@code loraForwardBackward} adds a rank-r adapter (r = 8, 16, 64), whose backward also gives dA
 * and dB. The overhead is the ratio of the two.
 *
 * <h2>Multi-adapter batch (Punica / S-LoRA)</h2>
 * 16 adapters of rank 16 on d = 1024, a batch of 1024 tokens with random adapter ids, the low-rank
 * updates only (inference, no graph):
 * <ul>
 *   <li>{@code multiGrouped}: {@link SegmentedLora#delta}: tokens sorted by adapter, shrink and
 *       expand as two grouped GEMMs, unpermute;</li>
 *   <li>{@code multiLoop}: {@link SegmentedLora#deltaLoop}: per adapter, gather its tokens, two
 *       dense products, scatter back;</li>
 *   <li>{@code multiMasked}: every adapter applied to the whole batch, the rows of other adapters
 *       masked out (the simple way without segmentation; 16x the flops).</li>
 * </ul>
 * Run: {@code java -jar bench/target/benchmarks.jar LoraBenchmark}. On a machine shared with other
 * work, read the numbers as rough.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class LoraBenchmark {
    static final int D = 1024, TOKENS = 512;

    /** Creates the benchmark (JMH and {@link LoraReport}). */
    public LoraBenchmark() {}

    /** The frozen layer, its input and upstream gradient. */
    @State(Scope.Benchmark)
    public static class Base {
        Linear linear;
        Tensor x, g;

        @Setup
        public void setup() {
            linear = new Linear(D, D, true, DType.F32, new Generator(1));
            linear.weight().setRequiresGrad(false);
            linear.bias().setRequiresGrad(false);
            x = Tensor.randn(new Generator(2), DType.F32, TOKENS, D).setRequiresGrad(true);
            g = Tensor.randn(new Generator(3), DType.F32, TOKENS, D);
        }
    }

    /** The same layer with a rank-r adapter. */
    @State(Scope.Benchmark)
    public static class Adapted {
        @Param({"8", "16", "64"})
        public int r;

        LoraLinear lora;
        Tensor x, g;

        @Setup
        public void setup() {
            Linear linear = new Linear(D, D, true, DType.F32, new Generator(1));
            lora = new LoraLinear(linear, "default", AdapterSpec.of(r, 2 * r).withInit(LoraInit.RANDOM), new Generator(4));
            x = Tensor.randn(new Generator(2), DType.F32, TOKENS, D).setRequiresGrad(true);
            g = Tensor.randn(new Generator(3), DType.F32, TOKENS, D);
        }
    }

    /** 16 adapters, 1024 tokens with random ids. */
    @State(Scope.Benchmark)
    public static class Multi {
        static final int ADAPTERS = 16, RANK = 16, BATCH = 1024;
        List<Tensor> a = new ArrayList<>(), b = new ArrayList<>();
        double[] s = new double[ADAPTERS];
        int[] ids;
        Tensor x;

        @Setup
        public void setup() {
            Generator gen = new Generator(5);
            for (int i = 0; i < ADAPTERS; i++) {
                a.add(Tensor.randn(gen, DType.F32, RANK, D).mul(0.03));
                b.add(Tensor.randn(gen, DType.F32, D, RANK).mul(0.03));
                s[i] = 2.0;
            }
            ids = new int[BATCH];
            for (int t = 0; t < BATCH; t++) ids[t] = gen.nextInt(ADAPTERS);
            x = Tensor.randn(gen, DType.F32, BATCH, D);
        }
    }

    @Benchmark
    public Tensor baseForwardBackward(Base st) {
        st.x.setGrad(null);
        Autograd.backward(st.linear.forward(st.x), st.g);
        return st.x.grad();
    }

    @Benchmark
    public Tensor loraForwardBackward(Adapted st) {
        st.x.setGrad(null);
        st.lora.zeroGrad();
        Autograd.backward(st.lora.forward(st.x), st.g);
        return st.x.grad();
    }

    @Benchmark
    public Tensor multiGrouped(Multi st) {
        try (NoGrad scope = NoGrad.enter()) {
            return SegmentedLora.delta(st.x, st.ids, st.a, st.b, st.s);
        }
    }

    @Benchmark
    public Tensor multiLoop(Multi st) {
        try (NoGrad scope = NoGrad.enter()) {
            return SegmentedLora.deltaLoop(st.x, st.ids, st.a, st.b, st.s);
        }
    }

    @Benchmark
    public Tensor multiMasked(Multi st) {
        try (NoGrad scope = NoGrad.enter()) {
            Tensor y = Tensor.zeros(DType.F32, Multi.BATCH, D);
            for (int i = 0; i < Multi.ADAPTERS; i++) {
                double[] mask = new double[Multi.BATCH];
                for (int t = 0; t < Multi.BATCH; t++) mask[t] = st.ids[t] == i ? st.s[i] : 0;
                Tensor yi = F.linear(F.linear(st.x, st.a.get(i), null), st.b.get(i), null);
                y = y.add(yi.mul(Tensor.of(mask, Multi.BATCH, 1).to(DType.F32)));
            }
            return y;
        }
    }
}
