package dev.moe4j.bench;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.kernels.cpu.Parallel;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The main job: trains a small MoE layer on the CPU on a synthetic task whose tokens come from
 * clusters, each cluster with its own target function, so that experts can specialise.
 *
 * <p>The task: C cluster centres mu_c in R^d; a token is x = mu_c + 0.5 * noise; its target is
 * y = tanh(W_c x) with a random W_c [d, d] per cluster. Cluster c is drawn with probability
 * proportional to 1 / (c + 1)^skew, so without balancing the experts that serve the frequent
 * clusters get most of the tokens. The model is one {@link MoeLayer}
 * (router -> routing plan -> permute -> grouped SwiGLU experts -> combine); the loss is the mean
 * squared error plus the layer's balance loss. Every step prints a progress line (loss, tokens/s);
 * every few steps the per-expert load is drawn as bars.
 *
 * <p>By default the job runs three phases of equal length from the same initial weights and data,
 * one per balancing mechanism, and ends with a table that compares them:
 * <ul>
 *   <li>{@code none}: no balancing; the router is free to collapse onto a few experts;</li>
 *   <li>{@code aux}: the Switch auxiliary loss (Fedus et al.), coefficient {@code --aux-coef};</li>
 *   <li>{@code lossfree}: auxiliary-loss-free balancing (Wang et al.): a selection bias per expert,
 *       moved by {@code u * sign(mean load - load)} after each step, outside the gradient.</li>
 * </ul>
 * The load imbalance is reported as max/mean tokens per expert (1.0 is perfect balance).
 */
public final class TrainMoe {

    private final Options o;

    private TrainMoe(Options o) { this.o = o; }

    /** Command-line options with their defaults. */
    static final class Options {
        String router = "softmax";
        int experts = 8, k = 2, d = 64, f = 128, tokens = 1024, clusters = 8;
        double capacityFactor = Double.POSITIVE_INFINITY;
        double seconds = 60;
        int steps = 0;                       // 0: run for the time budget
        String balance = "compare";
        double auxCoef = 0.01, biasRate = 0.01, lr = 3e-3;
        double skew = 1.0;                   // Zipf exponent of the cluster frequencies (0: uniform)
        long seed = 1;
        int threads = 0;
        int loadEvery = 25;

        static final Map<String, RouterKind> ROUTERS = new LinkedHashMap<>();
        static {
            ROUTERS.put("softmax", RouterKind.SOFTMAX_TOPK);
            ROUTERS.put("deepseek", RouterKind.DEEPSEEK_V3);
            ROUTERS.put("switch", RouterKind.SWITCH);
            ROUTERS.put("noisy", RouterKind.NOISY_TOPK);
            ROUTERS.put("expert-choice", RouterKind.EXPERT_CHOICE);
            ROUTERS.put("hash", RouterKind.HASH);
            ROUTERS.put("top-p", RouterKind.TOP_P);
            ROUTERS.put("null", RouterKind.NULL_EXPERTS);
        }
        static final List<String> BALANCES = List.of("compare", "none", "aux", "lossfree");

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--help") || a.equals("-h")) {
                    System.out.println(usage());
                    System.exit(0);
                }
                if (!a.startsWith("--") || i + 1 >= args.length) {
                    throw new IllegalArgumentException("expected '--option value', got '" + a + "'\n" + usage());
                }
                String v = args[++i];
                switch (a) {
                    case "--router" -> o.router = v;
                    case "--experts" -> o.experts = parseInt(a, v);
                    case "--k" -> o.k = parseInt(a, v);
                    case "--d" -> o.d = parseInt(a, v);
                    case "--f" -> o.f = parseInt(a, v);
                    case "--tokens" -> o.tokens = parseInt(a, v);
                    case "--clusters" -> o.clusters = parseInt(a, v);
                    case "--skew" -> o.skew = parseDouble(a, v);
                    case "--capacity-factor" -> o.capacityFactor = parseDouble(a, v);
                    case "--seconds" -> o.seconds = parseDouble(a, v);
                    case "--steps" -> o.steps = parseInt(a, v);
                    case "--balance" -> o.balance = v;
                    case "--aux-coef" -> o.auxCoef = parseDouble(a, v);
                    case "--bias-rate" -> o.biasRate = parseDouble(a, v);
                    case "--lr" -> o.lr = parseDouble(a, v);
                    case "--seed" -> o.seed = Long.parseLong(v);
                    case "--threads" -> o.threads = parseInt(a, v);
                    case "--load-every" -> o.loadEvery = parseInt(a, v);
                    default -> throw new IllegalArgumentException("unknown option " + a + "\n" + usage());
                }
            }
            o.validate();
            return o;
        }

        void validate() {
            if (!ROUTERS.containsKey(router)) {
                throw new IllegalArgumentException("unknown router kind '" + router + "'; accepted: " + String.join(", ", ROUTERS.keySet()));
            }
            if (!BALANCES.contains(balance)) {
                throw new IllegalArgumentException("unknown balance '" + balance + "'; accepted: " + String.join(", ", BALANCES));
            }
            if (experts < 1) throw new IllegalArgumentException("--experts must be >= 1, got " + experts);
            if (k < 1 || k > experts) throw new IllegalArgumentException("--k must be in [1, experts = " + experts + "], got " + k);
            if (d < 1 || f < 1 || tokens < 1 || clusters < 1) {
                throw new IllegalArgumentException("--d, --f, --tokens and --clusters must be >= 1, got " + d + ", " + f + ", " + tokens + ", " + clusters);
            }
            if (!(capacityFactor > 0)) throw new IllegalArgumentException("--capacity-factor must be > 0, got " + capacityFactor);
            if (!(seconds > 0) && steps <= 0) throw new IllegalArgumentException("--seconds must be > 0 (or give --steps)");
            if (!(skew >= 0)) throw new IllegalArgumentException("--skew must be >= 0, got " + skew);
            if (threads < 0) throw new IllegalArgumentException("--threads must be >= 0 (0: all cores), got " + threads);
        }

        private static int parseInt(String name, String v) {
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " needs an integer, got '" + v + "'");
            }
        }

        private static double parseDouble(String name, String v) {
            try {
                return Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " needs a number, got '" + v + "'");
            }
        }

        static String usage() {
            return """
                    usage: Main train [--router softmax|deepseek|switch|noisy|expert-choice|hash|top-p|null]
                                      [--experts 8] [--k 2] [--capacity-factor inf] [--d 64] [--f 128]
                                      [--tokens 1024] [--clusters 8] [--skew 1.0] [--seconds 60 | --steps N]
                                      [--balance compare|none|aux|lossfree] [--aux-coef 0.01] [--bias-rate 0.01]
                                      [--lr 3e-3] [--seed 1] [--threads 0] [--load-every 25]""";
        }
    }

    /** Result of one training phase. */
    record PhaseResult(String balance, int steps, double finalLoss, double imbalance, double tokensPerSecond, int[] load) {}

    /** Runs the job. */
    public static void main(String[] args) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        if (o.threads > 0) Parallel.setThreads(o.threads);
        new TrainMoe(o).run();
    }

    private void run() {
        List<String> phases = o.balance.equals("compare") ? List.of("none", "aux", "lossfree") : List.of(o.balance);
        System.out.printf(Locale.ROOT, "moe4j: training an MoE layer on clustered tokens (CPU, %d thread(s))%n", Parallel.threads());
        System.out.printf(Locale.ROOT, "router %s, E = %d, k = %d, d = %d, f = %d, %d tokens/step, %d clusters, capacity factor %s%n",
                o.router, o.experts, o.k, o.d, o.f, o.tokens, o.clusters,
                Double.isInfinite(o.capacityFactor) ? "none" : String.valueOf(o.capacityFactor));
        warmUp();
        List<PhaseResult> results = new ArrayList<>();
        for (String b : phases) results.add(phase(b, o.seconds / phases.size()));
        if (results.size() > 1) {
            System.out.println();
            System.out.println("balancing   steps   final loss   load max/mean   tokens/s   final load per expert");
            for (PhaseResult r : results) {
                System.out.printf(Locale.ROOT, "%-10s %6d %12.5f %15.2f %10.0f   %s%n",
                        r.balance, r.steps, r.finalLoss, r.imbalance, r.tokensPerSecond, java.util.Arrays.toString(r.load));
            }
        }
    }

    /** A few untimed steps so that the phases compare trained code, not the JIT's warm-up. */
    private void warmUp() {
        MoeLayer layer = new MoeLayer(layerOptions("aux"));
        Adam opt = new Adam(layer.parameters(), o.lr);
        Task task = new Task(o.d, o.clusters, o.skew, o.seed + 99);
        Generator g = new Generator(o.seed + 98);
        long start = System.nanoTime();
        for (int i = 0; i < 80 && (System.nanoTime() - start) < 8e9; i++) {
            Batch b = task.sample(g, Math.min(o.tokens, 256));
            opt.zeroGrad();
            Autograd.backward(F.add(F.mseLoss(layer.forward(b.x, b.tokenIds), b.y), layer.auxLoss()));
            opt.step();
        }
    }

    private MoeOptions layerOptions(String balance) {
        MoeOptions m = new MoeOptions().router(Options.ROUTERS.get(o.router)).experts(o.experts).topK(o.k)
                .hiddenSize(o.d).intermediateSize(o.f).capacityFactor(o.capacityFactor).seed(o.seed);
        if (o.router.equals("deepseek")) m.groups(1, 1);
        switch (balance) {
            case "aux" -> m.balancing(Balancing.auxLoss(o.auxCoef));
            case "lossfree" -> m.balancing(Balancing.lossFree(o.biasRate)).selectionBias(true);
            default -> m.balancing(Balancing.none());
        }
        return m;
    }

    private PhaseResult phase(String balance, double seconds) {
        System.out.println();
        System.out.println("== balancing: " + balance + describe(balance));
        MoeLayer layer = new MoeLayer(layerOptions(balance));
        layer.train();
        Adam opt = new Adam(layer.parameters(), o.lr);
        Task task = new Task(o.d, o.clusters, o.skew, o.seed);
        Generator batches = new Generator(o.seed + 1);

        long start = System.nanoTime();
        int step = 0;
        double emaLoss = Double.NaN;
        long tokensSeen = 0;
        double lastPrint = 0;
        while (true) {
            double elapsed = (System.nanoTime() - start) / 1e9;
            if (o.steps > 0 ? step >= o.steps : elapsed >= seconds) break;
            Batch batch = task.sample(batches, o.tokens);
            opt.zeroGrad();
            Tensor yHat = layer.forward(batch.x, batch.tokenIds);
            Tensor mse = F.mseLoss(yHat, batch.y);
            Tensor loss = F.add(mse, layer.auxLoss());
            Autograd.backward(loss);
            opt.step();
            try (NoGrad ignored = NoGrad.enter()) {
                layer.updateSelectionBias();
            }
            step++;
            tokensSeen += o.tokens;
            double l = mse.item();
            emaLoss = Double.isNaN(emaLoss) ? l : 0.9 * emaLoss + 0.1 * l;
            double now = (System.nanoTime() - start) / 1e9;
            if (now - lastPrint >= 1.0 || step == 1) {
                lastPrint = now;
                int[] load = layer.lastLoad();
                System.out.printf(Locale.ROOT, "step %5d | loss %.5f | aux %.4f | %7.0f tokens/s | load max/mean %.2f%n",
                        step, emaLoss, layer.report().auxLoss(), tokensSeen / now, imbalance(load));
            }
            if (o.loadEvery > 0 && step % o.loadEvery == 0) printLoad(layer.lastLoad());
        }
        double total = (System.nanoTime() - start) / 1e9;
        int[] load = layer.lastLoad();
        printLoad(load);
        return new PhaseResult(balance, step, emaLoss, imbalance(load), tokensSeen / total, load);
    }

    private static String describe(String balance) {
        return switch (balance) {
            case "aux" -> " (Switch auxiliary loss)";
            case "lossfree" -> " (auxiliary-loss-free selection bias)";
            default -> " (router left to itself)";
        };
    }

    /** max / mean of the per-expert load (1.0: perfectly balanced). */
    static double imbalance(int[] load) {
        long sum = 0;
        int max = 0;
        for (int c : load) {
            sum += c;
            max = Math.max(max, c);
        }
        return sum == 0 ? 0 : max / ((double) sum / load.length);
    }

    private static void printLoad(int[] load) {
        int max = 1;
        for (int c : load) max = Math.max(max, c);
        StringBuilder sb = new StringBuilder("  tokens per expert:\n");
        for (int e = 0; e < load.length; e++) {
            int w = (int) Math.round(40.0 * load[e] / max);
            sb.append(String.format(Locale.ROOT, "  e%-3d %6d |%s%n", e, load[e], "#".repeat(w)));
        }
        System.out.print(sb);
    }

    /** One training batch: inputs [T, d], targets [T, d], token ids (for hash routing). */
    record Batch(Tensor x, Tensor y, long[] tokenIds) {}

    /** The synthetic clustered regression task. */
    static final class Task {
        final int d, clusters;
        final double[][] centres;
        final double[][][] maps;
        final double[] cumulative;

        Task(int d, int clusters, double skew, long seed) {
            this.d = d;
            this.clusters = clusters;
            cumulative = new double[clusters];
            double total = 0;
            for (int c = 0; c < clusters; c++) cumulative[c] = total += Math.pow(c + 1, -skew);
            for (int c = 0; c < clusters; c++) cumulative[c] /= total;
            Generator g = new Generator(seed * 31 + 7);
            centres = new double[clusters][d];
            maps = new double[clusters][d][d];
            for (int c = 0; c < clusters; c++) {
                for (int i = 0; i < d; i++) centres[c][i] = 2.0 * g.nextGaussian();
                for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) maps[c][i][j] = g.nextGaussian() / Math.sqrt(d);
            }
        }

        Batch sample(Generator g, int tokens) {
            float[] x = new float[tokens * d], y = new float[tokens * d];
            long[] ids = new long[tokens];
            double[] xi = new double[d];
            for (int t = 0; t < tokens; t++) {
                double u = g.nextDouble();
                int c = 0;
                while (c < clusters - 1 && u >= cumulative[c]) c++;
                ids[t] = c * 16L + g.nextInt(16);
                for (int i = 0; i < d; i++) {
                    xi[i] = centres[c][i] + 0.5 * g.nextGaussian();
                    x[t * d + i] = (float) xi[i];
                }
                for (int i = 0; i < d; i++) {
                    double s = 0;
                    for (int j = 0; j < d; j++) s += maps[c][i][j] * xi[j];
                    y[t * d + i] = (float) Math.tanh(s);
                }
            }
            return new Batch(Tensor.of(x, tokens, d), Tensor.of(y, tokens, d), ids);
        }
    }
}
