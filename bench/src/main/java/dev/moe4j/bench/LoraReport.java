package dev.moe4j.bench;

import dev.moe4j.autograd.Autograd;
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
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * The {@link LoraBenchmark} comparisons without JMH, for machines shared with other work: the
 * variants of each comparison run interleaved, one call each per round, so that a load change hits
 * all of them alike, and the median of the rounds after a warm-up is printed with its ratio to the
 * baseline of the same comparison.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.moe4j.bench.LoraReport [rounds]
 * </pre>
 */
public final class LoraReport {
    private LoraReport() {}

    /** Prints both tables; the optional argument is the number of measured rounds (default 40). */
    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        int d = LoraBenchmark.D, tokens = LoraBenchmark.TOKENS;

        Linear base = new Linear(d, d, true, DType.F32, new Generator(1));
        base.weight().setRequiresGrad(false);
        base.bias().setRequiresGrad(false);
        Tensor x = Tensor.randn(new Generator(2), DType.F32, tokens, d).setRequiresGrad(true);
        Tensor g = Tensor.randn(new Generator(3), DType.F32, tokens, d);
        List<String> names = new ArrayList<>(List.of("frozen Linear"));
        List<Supplier<Object>> runs = new ArrayList<>();
        runs.add(() -> {
            x.setGrad(null);
            Autograd.backward(base.forward(x), g);
            return x.grad();
        });
        for (int r : new int[] {8, 16, 64}) {
            LoraLinear l = new LoraLinear(new Linear(d, d, true, DType.F32, new Generator(1)), "default",
                    AdapterSpec.of(r, 2 * r).withInit(LoraInit.RANDOM), new Generator(4));
            names.add("LoRA r=" + r);
            runs.add(() -> {
                x.setGrad(null);
                l.zeroGrad();
                Autograd.backward(l.forward(x), g);
                return x.grad();
            });
        }
        print("forward + backward, [" + tokens + ", " + d + "] -> [" + tokens + ", " + d + "]", names, measure(runs, rounds));

        LoraBenchmark.Multi m = new LoraBenchmark.Multi();
        m.setup();
        LoraBenchmark bench = new LoraBenchmark();
        List<Supplier<Object>> multi = List.of(() -> bench.multiLoop(m), () -> bench.multiGrouped(m), () -> bench.multiMasked(m));
        try (NoGrad scope = NoGrad.enter()) {
            print("16 adapters r=16, 1024 tokens, d=" + d + ": low-rank updates", List.of("loop over adapters", "grouped", "masked"),
                    measure(multi, rounds));
        }
    }

    /** Median milliseconds of each variant over {@code rounds} interleaved rounds, after 10 warm-up rounds. */
    static double[] measure(List<Supplier<Object>> runs, int rounds) {
        int warm = 10;
        double[][] t = new double[runs.size()][rounds];
        Object sink = null;
        for (int round = 0; round < warm + rounds; round++) {
            for (int v = 0; v < runs.size(); v++) {
                long t0 = System.nanoTime();
                sink = runs.get(v).get();
                long t1 = System.nanoTime();
                if (round >= warm) t[v][round - warm] = (t1 - t0) / 1e6;
            }
        }
        if (sink == null) throw new IllegalStateException("no result");
        double[] med = new double[runs.size()];
        for (int v = 0; v < runs.size(); v++) {
            Arrays.sort(t[v]);
            med[v] = t[v][rounds / 2];
        }
        return med;
    }

    private static void print(String title, List<String> names, double[] ms) {
        System.out.println(title + " (median ms, ratio to the first)");
        for (int v = 0; v < ms.length; v++) System.out.printf("  %-20s %9.2f ms  %6.2fx%n", names.get(v), ms[v], ms[v] / ms[0]);
    }
}
