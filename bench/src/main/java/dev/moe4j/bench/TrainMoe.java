package dev.moe4j.bench;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.bench.insight.StagedPass;
import dev.moe4j.bench.report.HtmlReport;
import dev.moe4j.bench.report.TrainingLog;
import dev.moe4j.bench.report.TrainingReport;
import dev.moe4j.kernels.cpu.Parallel;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
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
 * squared error plus the layer's balance loss. A progress bar shows the step, loss, tokens/s and
 * the time left (plain lines when the output is not a terminal); every few steps the per-expert
 * load is drawn as bars.
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
 *
 * <p>The run ends by writing an HTML report ({@code --report path}, default
 * {@code reports/train-report.html}; {@code --report none} for none): loss curves, expert load
 * heatmaps, dropped tokens, routing entropy, the balance mechanism's state and the time per kernel
 * forward and backward. The path is checked for writing before training starts. The kernel times
 * come from a stage-by-stage pass ({@link StagedPass#timed}) on the current batch every
 * {@code --time-every} steps, outside the training update and outside the tokens/s figure.
 */
public final class TrainMoe {

    private final Options o;
    private final PrintStream out;

    private TrainMoe(Options o, PrintStream out) {
        this.o = o;
        this.out = out;
    }

    /** Command-line options with their defaults. */
    static final class Options {
        String router = "softmax";
        int experts = 8, k = 2, d = 64, f = 128, tokens = 1024, clusters = 8;
        double capacityFactor = Double.POSITIVE_INFINITY;
        double seconds = 60;
        int steps = 0;                       // 0: run for the time budget
        String balance = "compare";
        double auxCoef = 0.01, biasRate = 0.001, lr = 3e-3;   // u = 0.001 as in the loss-free balancing paper
        double skew = 1.0;                   // Zipf exponent of the cluster frequencies (0: uniform)
        long seed = 1;
        int threads = 0;
        int loadEvery = 25;
        int timeEvery = 20;
        String report = "reports/train-report.html";

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

        /** The report file, or null for {@code --report none}. */
        Path reportPath() {
            return report.equals("none") ? null : Path.of(report);
        }

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
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
                    case "--time-every" -> o.timeEvery = parseInt(a, v);
                    case "--report" -> o.report = v;
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
            if (timeEvery < 0) throw new IllegalArgumentException("--time-every must be >= 0 (0: no timed passes), got " + timeEvery);
            if (report.isBlank()) throw new IllegalArgumentException("--report needs a file name (or 'none')");
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
                                      [--balance compare|none|aux|lossfree] [--aux-coef 0.01] [--bias-rate 0.001]
                                      [--lr 3e-3] [--seed 1] [--threads 0] [--load-every 25] [--time-every 20]
                                      [--report reports/train-report.html | --report none]""";
        }
    }

    /** Result of one training phase. */
    record PhaseResult(String balance, int steps, double finalLoss, double imbalance, double tokensPerSecond, int[] load) {}

    /** Runs the job; exits with status 2 on bad options or a report path that cannot be written. */
    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        if (code != 0) System.exit(code);
    }

    /**
     * Runs the job, printing to {@code out}.
     *
     * @return 0 on success, 2 on bad options or a report path that cannot be written (checked before
     *         training starts), 1 when the report could not be written after training
     */
    static int run(String[] args, PrintStream out, PrintStream err) {
        if (java.util.Arrays.asList(args).contains("--help") || java.util.Arrays.asList(args).contains("-h")) {
            out.println(Options.usage());
            return 0;
        }
        Options o;
        try {
            o = Options.parse(args);
            if (o.reportPath() != null) HtmlReport.requireWritable(o.reportPath());
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        }
        if (o.threads > 0) Parallel.setThreads(o.threads);
        TrainMoe job = new TrainMoe(o, out);
        List<String> phases;
        try {
            phases = job.phases();
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        }
        return job.run(phases);
    }

    /**
     * The balancing phases to run, each checked by building its layer before any training: with
     * {@code compare}, the auxiliary-loss-free phase is left out (with a note) for routers without a
     * selection bias.
     *
     * @throws IllegalArgumentException when a phase's layer cannot be built from the options
     */
    private List<String> phases() {
        List<String> wanted = o.balance.equals("compare") ? List.of("none", "aux", "lossfree") : List.of(o.balance);
        List<String> out = new ArrayList<>();
        for (String b : wanted) {
            try {
                new MoeLayer(layerOptions(b));
                out.add(b);
            } catch (IllegalArgumentException e) {
                if (!o.balance.equals("compare") || !b.equals("lossfree")) {
                    throw new IllegalArgumentException("cannot build the MoE layer for balancing '" + b + "': " + e.getMessage());
                }
                this.out.println("note: router " + o.router + " has no selection bias, so the auxiliary-loss-free phase is left out"
                        + " (it needs --router softmax or deepseek)");
            }
        }
        return out;
    }

    private int run(List<String> phases) {
        out.printf(Locale.ROOT, "moe4j: training an MoE layer on clustered tokens (CPU, %d thread(s))%n", Parallel.threads());
        out.printf(Locale.ROOT, "router %s, E = %d, k = %d, d = %d, f = %d, %d tokens/step, %d clusters, capacity factor %s%n",
                o.router, o.experts, o.k, o.d, o.f, o.tokens, o.clusters,
                Double.isInfinite(o.capacityFactor) ? "none" : String.valueOf(o.capacityFactor));
        warmUp();
        List<PhaseResult> results = new ArrayList<>();
        List<TrainingLog> logs = new ArrayList<>();
        for (String b : phases) {
            TrainingLog log = new TrainingLog(b, o.experts);
            results.add(phase(b, o.seconds / phases.size(), log));
            logs.add(log);
        }
        if (results.size() > 1) {
            out.println();
            out.println("balancing   steps   final loss   load max/mean   tokens/s   final load per expert");
            for (PhaseResult r : results) {
                out.printf(Locale.ROOT, "%-10s %6d %12.5f %15.2f %10.0f   %s%n",
                        r.balance, r.steps, r.finalLoss, r.imbalance, r.tokensPerSecond, java.util.Arrays.toString(r.load));
            }
        }
        return writeReport(logs);
    }

    /** Writes the HTML report; returns 0, or 1 when it cannot be written. */
    private int writeReport(List<TrainingLog> logs) {
        Path path = o.reportPath();
        if (path == null) return 0;
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("router", o.router);
        settings.put("experts E, top-k", o.experts + ", " + o.k);
        settings.put("d, f", o.d + ", " + o.f);
        settings.put("tokens per step", String.valueOf(o.tokens));
        settings.put("clusters, skew", o.clusters + ", " + o.skew);
        settings.put("capacity factor", Double.isInfinite(o.capacityFactor) ? "none" : String.valueOf(o.capacityFactor));
        settings.put("balancing", o.balance + " (aux coefficient " + o.auxCoef + ", bias rate " + o.biasRate + ")");
        settings.put("optimizer", "Adam, lr " + o.lr);
        settings.put("budget", o.steps > 0 ? o.steps + " steps per phase" : o.seconds + " s in all");
        settings.put("threads", String.valueOf(Parallel.threads()));
        settings.put("seed", String.valueOf(o.seed));
        settings.put("machine", System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " cores, Java "
                + System.getProperty("java.version"));
        try {
            TrainingReport.build("moe4j training report: MoE layer on clustered tokens", settings, logs).write(path);
        } catch (IOException | IllegalArgumentException e) {
            out.println("could not write the report to " + path.toAbsolutePath() + ": " + e.getMessage());
            return 1;
        }
        out.println();
        out.println("report written to " + path.toAbsolutePath());
        return 0;
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

    private PhaseResult phase(String balance, double seconds, TrainingLog log) {
        out.println();
        out.println("== balancing: " + balance + describe(balance));
        MoeLayer layer = new MoeLayer(layerOptions(balance));
        layer.train();
        Adam opt = new Adam(layer.parameters(), o.lr);
        Task task = new Task(o.d, o.clusters, o.skew, o.seed);
        Generator batches = new Generator(o.seed + 1);

        long start = System.nanoTime();
        int step = 0;
        double emaLoss = Double.NaN;
        long tokensSeen = 0;
        long untimed = 0;                    // nanoseconds spent in timed passes, left out of tokens/s
        ProgressBar bar = new ProgressBar(balance, o.steps, seconds, out, out == System.out && ProgressBar.isTerminal(), 1.0, System::nanoTime);
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
            double now = (System.nanoTime() - start - untimed) / 1e9;
            double tps = tokensSeen / now;
            log.record(step, l, layer.report().auxLoss(), layer.lastRouting(), tps);
            if (o.timeEvery > 0 && (step % o.timeEvery == 0 || step == 1)) {
                long t0 = System.nanoTime();
                log.addTimes(timedPass(layer, batch, yHat));
                untimed += System.nanoTime() - t0;
            }
            bar.update(step, emaLoss, tps, String.format(Locale.ROOT, "aux %.4f | load max/mean %.2f", layer.report().auxLoss(),
                    imbalance(layer.lastLoad())));
            if (o.loadEvery > 0 && step % o.loadEvery == 0) bar.println(loadBars(layer.lastLoad()));
        }
        double total = (System.nanoTime() - start - untimed) / 1e9;
        int[] load = layer.lastLoad();
        bar.finish(step, emaLoss, tokensSeen / total, String.format(Locale.ROOT, "load max/mean %.2f", imbalance(load)));
        out.print(loadBars(load));
        return new PhaseResult(balance, step, emaLoss, imbalance(load), tokensSeen / total, load);
    }

    /**
     * One stage-by-stage forward and backward of the layer on the step's batch, timed per kernel, with
     * the step's loss gradient dL/dy = 2 (yHat - y) / numel as the upstream gradient. Runs in eval mode
     * (no router noise is drawn) and clears the gradients it leaves, so the training is unchanged.
     */
    private static dev.moe4j.bench.insight.StageTimes timedPass(MoeLayer layer, Batch batch, Tensor yHat) {
        Tensor dy = yHat.detach().sub(batch.y).mul(2.0 / yHat.numel());
        boolean training = layer.isTraining();
        layer.eval();
        try {
            return StagedPass.timed(layer, batch.x, batch.tokenIds, dy);
        } finally {
            layer.train(training);
            for (Tensor p : layer.parameters()) p.setGrad(null);
        }
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

    private static String loadBars(int[] load) {
        int max = 1;
        for (int c : load) max = Math.max(max, c);
        StringBuilder sb = new StringBuilder("  tokens per expert:\n");
        for (int e = 0; e < load.length; e++) {
            int w = (int) Math.round(40.0 * load[e] / max);
            sb.append(String.format(Locale.ROOT, "  e%-3d %6d |%s%n", e, load[e], "#".repeat(w)));
        }
        return sb.toString();
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
