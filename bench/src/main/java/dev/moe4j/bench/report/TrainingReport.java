package dev.moe4j.bench.report;

import dev.moe4j.bench.insight.Fmt;
import dev.moe4j.bench.insight.StageTimes;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the logs of a training run (one per phase, for example one per balancing mechanism) into
 * an {@link HtmlReport}:
 * <ol>
 *   <li>the settings and a summary per phase;</li>
 *   <li>the loss curve (log scale), one line per phase;</li>
 *   <li>the expert load per step as a heatmap, one per phase;</li>
 *   <li>the dropped (token, slot) pairs over time;</li>
 *   <li>the routing entropy (mean per-token score entropy) and the load max/mean over time;</li>
 *   <li>the balance mechanism's state: the Switch balance loss (the quantity the auxiliary loss
 *       pushes down) and the selection biases of auxiliary-loss-free balancing;</li>
 *   <li>the time per kernel, forward beside backward, from the timed passes.</li>
 * </ol>
 */
public final class TrainingReport {
    private TrainingReport() {}

    /**
     * Builds the report.
     *
     * @param title    the report title
     * @param settings setting name &rarr; value, shown as a table
     * @param phases   the logs, each with at least one step
     * @throws IllegalArgumentException for no phases, or a phase without steps
     */
    public static HtmlReport build(String title, Map<String, String> settings, List<TrainingLog> phases) {
        if (phases.isEmpty()) throw new IllegalArgumentException("a training report needs at least one phase");
        for (TrainingLog p : phases) if (p.size() == 0) throw new IllegalArgumentException("phase '" + p.name() + "' recorded no steps");
        HtmlReport r = new HtmlReport(title);
        r.section("Run");
        List<List<String>> rows = new ArrayList<>();
        settings.forEach((k, v) -> rows.add(List.of(k, v)));
        r.table(List.of("setting", "value"), rows, "Settings");
        List<List<String>> summary = new ArrayList<>();
        for (TrainingLog p : phases) {
            int last = p.size() - 1;
            summary.add(List.of(p.name(), String.valueOf((long) p.steps()[last]), Fmt.num(p.loss()[last]), Fmt.fixed(p.imbalance()[last], 2),
                    Fmt.fixed(100 * p.droppedFraction()[last], 2), Fmt.fixed(p.tokensPerSecond()[last], 0)));
        }
        r.table(List.of("phase", "steps", "final loss", "load max/mean", "dropped pairs (%)", "tokens/s"), summary,
                "Summary per phase (last step; load max/mean 1.00 is perfect balance)");

        r.section("Loss");
        LineChart loss = new LineChart("loss", "Training loss per step").x("step", "optimizer steps").y("loss", "mean squared error").logY(positive(phases));
        for (TrainingLog p : phases) loss.series(p.name(), p.steps(), p.loss());
        r.chart(loss, "The task loss (without the balance loss), one line per phase; lines differ by dash pattern and marker, and are named at their ends.");

        r.section("Expert load");
        double maxShare = 0;
        for (TrainingLog p : phases) {
            for (int i = 0; i < p.size(); i++) {
                int[] l = p.load(i);
                long sum = 0;
                int max = 0;
                for (int c : l) {
                    sum += c;
                    max = Math.max(max, c);
                }
                if (sum > 0) maxShare = Math.max(maxShare, (double) max / sum);
            }
        }
        for (TrainingLog p : phases) {
            int E = p.numExperts(), n = p.size();
            double[][] share = new double[E][n];
            for (int i = 0; i < n; i++) {
                int[] l = p.load(i);
                long sum = 0;
                for (int c : l) sum += c;
                for (int e = 0; e < E; e++) share[e][i] = sum == 0 ? 0 : (double) l[e] / sum;
            }
            List<String> labels = new ArrayList<>();
            for (int e = 0; e < E; e++) labels.add("expert " + e);
            Heatmap h = new Heatmap("load-" + slug(p.name()), "Expert load per step: " + p.name(), labels, p.steps(), share)
                    .x("step", "optimizer steps").value("share of pairs", "%", 100).maxValue(maxShare);
            r.chart(h, "Each cell is the share of the step's (token, slot) pairs an expert processed: darker is more (one scale for all phases)."
                    + " Balanced load is " + Fmt.fixed(100.0 / E, 1) + "% per expert.");
        }

        r.section("Dropped tokens");
        LineChart dropped = new LineChart("dropped", "Dropped (token, slot) pairs per step").x("step", "optimizer steps").y("dropped pairs", "% of T·k")
                .yFromZero(true);
        for (TrainingLog p : phases) dropped.series(p.name(), p.steps(), scale(p.droppedFraction(), 100));
        r.chart(dropped, "Pairs over their expert's capacity are dropped: the token skips that expert. Without a capacity limit the line stays at 0.");

        r.section("Routing entropy and balance");
        LineChart entropy = new LineChart("entropy", "Routing entropy per step").x("step", "optimizer steps").y("mean token score entropy", "nats")
                .yFromZero(true);
        for (TrainingLog p : phases) entropy.series(p.name(), p.steps(), p.tokenEntropy());
        r.chart(entropy, "Mean over tokens of the entropy of the router's score distribution: ln E = " + Fmt.fixed(Math.log(phases.get(0).numExperts()), 3)
                + " nats when the router is undecided, 0 when every token puts all its score on one expert.");
        LineChart imbalance = new LineChart("imbalance", "Load imbalance per step").x("step", "optimizer steps").y("max load / mean load", "ratio");
        for (TrainingLog p : phases) imbalance.series(p.name(), p.steps(), p.imbalance());
        r.chart(imbalance, "1.0 is a perfectly balanced load; E (" + phases.get(0).numExperts() + ") means one expert takes everything.");

        r.section("Balance mechanism");
        LineChart aux = new LineChart("aux-loss", "Switch balance loss per step").x("step", "optimizer steps").y("E/T · Σ demand·P", "unweighted");
        for (TrainingLog p : phases) aux.series(p.name(), p.steps(), p.switchAux());
        r.chart(aux, "The Switch Transformers balance loss computed for every phase as a diagnostic (k at perfect balance); the auxiliary-loss phase"
                + " trains on coefficient × this value.");
        boolean anyBias = false;
        for (TrainingLog p : phases) {
            if (!p.hasBias()) continue;
            anyBias = true;
            LineChart bias = new LineChart("bias-" + slug(p.name()), "Selection bias per expert: " + p.name()).x("step", "optimizer steps")
                    .y("bias added to the scores", "score units");
            List<Integer> shown = biasShown(p);
            for (int e : shown) bias.series("expert " + e, p.steps(), p.bias(e));
            r.chart(bias, "Auxiliary-loss-free balancing: after each step, bias_e += u · sign(mean load − load_e); overloaded experts sink, idle ones rise."
                    + (shown.size() < p.numExperts() ? " Of the " + p.numExperts() + " experts, the " + shown.size()
                    + " with the highest and lowest final bias are drawn." : ""));
        }
        if (!anyBias) r.paragraph("No phase used a selection bias (auxiliary-loss-free balancing), so there is no bias to show.");

        StageTimes times = new StageTimes();
        for (TrainingLog p : phases) times.add(p.times());
        r.section("Time per kernel");
        if (times.passes() == 0) {
            r.paragraph("No timed passes were recorded.");
        } else {
            Map<String, double[]> byStage = new LinkedHashMap<>();
            for (StageTimes.StageTime t : times.stages()) {
                double[] fb = byStage.computeIfAbsent(t.stage(), k -> new double[] {Double.NaN, Double.NaN});
                fb[t.backward() ? 1 : 0] = times.meanMillis(t);
            }
            List<String> stages = new ArrayList<>(byStage.keySet());
            double[] fwd = new double[stages.size()], bwd = new double[stages.size()];
            for (int i = 0; i < stages.size(); i++) {
                fwd[i] = byStage.get(stages.get(i))[0];
                bwd[i] = byStage.get(stages.get(i))[1];
            }
            BarChart bars = new BarChart("kernel-time", "Time per kernel, forward and backward", stages).axis("time per pass", "ms")
                    .series("forward", fwd).series("backward", bwd);
            r.chart(bars, "Mean wall-clock time per pass of each stage, measured on " + times.passes() + " timed stage-by-stage passes during training"
                    + " (forward " + Fmt.fixed(times.total(false) / 1e6 / times.passes(), 3) + " ms, backward "
                    + Fmt.fixed(times.total(true) / 1e6 / times.passes(), 3) + " ms per pass).");
            List<List<String>> trows = new ArrayList<>();
            for (StageTimes.StageTime t : times.stages()) {
                trows.add(List.of(t.backward() ? "backward" : "forward", t.stage(), t.kernel(), Fmt.fixed(times.meanMillis(t), 3)));
            }
            r.table(List.of("pass", "stage", "kernel", "ms per pass"), trows, "The same times with the kernels that run each stage");
        }
        return r;
    }

    /** All experts up to 12; else the 6 with the highest and the 6 with the lowest final bias. */
    static List<Integer> biasShown(TrainingLog p) {
        int E = p.numExperts();
        List<Integer> all = new ArrayList<>();
        for (int e = 0; e < E; e++) all.add(e);
        if (E <= 12) return all;
        int last = p.size() - 1;
        all.sort((a, b) -> Double.compare(finite(p.bias(b)[last]), finite(p.bias(a)[last])));
        List<Integer> out = new ArrayList<>(all.subList(0, 6));
        out.addAll(all.subList(E - 6, E));
        out.sort(Integer::compare);
        return out;
    }

    private static double finite(double v) {
        return Double.isFinite(v) ? v : 0;
    }

    private static boolean positive(List<TrainingLog> phases) {
        for (TrainingLog p : phases) for (double v : p.loss()) if (!(v > 0)) return false;
        return true;
    }

    private static double[] scale(double[] v, double s) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] * s;
        return out;
    }

    static String slug(String s) {
        String x = s.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "");
        return x.isEmpty() ? "phase" : x;
    }
}
