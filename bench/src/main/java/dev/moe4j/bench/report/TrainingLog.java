package dev.moe4j.bench.report;

import dev.moe4j.bench.insight.RoutingStats;
import dev.moe4j.bench.insight.StageTimes;
import dev.moe4j.moe.Routing;

import java.util.ArrayList;
import java.util.List;

/**
 * What a training run (or one phase of it) did, step by step, for the report: the loss, the
 * weighted balance loss trained on, the per-expert load, the dropped pairs, the routing entropy,
 * the unweighted Switch balance loss as a diagnostic, the selection bias of auxiliary-loss-free
 * balancing, the throughput, and the stage times of timed passes.
 */
public final class TrainingLog {
    private final String name;
    private final int numExperts;
    private final List<Integer> steps = new ArrayList<>();
    private final List<Double> loss = new ArrayList<>(), auxLoss = new ArrayList<>(), switchAux = new ArrayList<>(), dropped = new ArrayList<>(),
            tokenEntropy = new ArrayList<>(), loadEntropy = new ArrayList<>(), imbalance = new ArrayList<>(), tokensPerSecond = new ArrayList<>();
    private final List<int[]> load = new ArrayList<>();
    private final List<double[]> bias = new ArrayList<>();
    private final StageTimes times = new StageTimes();

    /**
     * @param name       the run or phase, as the charts label it
     * @param numExperts E
     * @throws IllegalArgumentException for E &lt; 1
     */
    public TrainingLog(String name, int numExperts) {
        if (numExperts < 1) throw new IllegalArgumentException("a training log needs E >= 1, got " + numExperts);
        this.name = name;
        this.numExperts = numExperts;
    }

    /**
     * Records one step.
     *
     * @param step            the step number (1-based)
     * @param loss            the task loss
     * @param weightedAux     the weighted balance loss added to it (0 when none)
     * @param routing         the step's routing (load, dropped pairs, scores, bias)
     * @param tokensPerSecond throughput so far
     * @throws IllegalArgumentException when the routing has another E
     */
    public void record(int step, double loss, double weightedAux, Routing routing, double tokensPerSecond) {
        if (routing.numExperts() != numExperts) {
            throw new IllegalArgumentException("routing has E = " + routing.numExperts() + ", the log " + numExperts);
        }
        int[] l = routing.load();
        steps.add(step);
        this.loss.add(loss);
        auxLoss.add(weightedAux);
        switchAux.add(switchBalanceLoss(routing));
        dropped.add(routing.plan().numPairs() == 0 ? 0 : (double) routing.droppedPairs() / routing.plan().numPairs());
        tokenEntropy.add(RoutingStats.meanTokenEntropy(routing));
        loadEntropy.add(RoutingStats.loadEntropy(l));
        imbalance.add(RoutingStats.imbalance(l));
        this.tokensPerSecond.add(tokensPerSecond);
        load.add(l);
        double[] b = routing.selectionBias();
        bias.add(b == null ? null : java.util.Arrays.copyOf(b, numExperts));
    }

    /** Adds the stage times of a timed pass. */
    public void addTimes(StageTimes t) { times.add(t); }

    /**
     * The Switch balance loss E / T * sum_e demand_e P_e (P_e: mean score of expert e, scores of each
     * token normalised to sum 1), unweighted: k when the load and the scores are uniform; NaN for a
     * router without scores.
     */
    static double switchBalanceLoss(Routing routing) {
        if (routing.scores() == null || routing.numTokens() == 0) return Double.NaN;
        double[] s = routing.scores().toDoubleArray();
        int cols = routing.scores().size(-1), T = routing.numTokens(), E = routing.numExperts();
        double[] p = new double[E];
        for (int t = 0; t < T; t++) {
            double sum = 0;
            for (int e = 0; e < cols; e++) sum += s[t * cols + e];
            if (!(sum > 0)) continue;
            for (int e = 0; e < E; e++) p[e] += s[t * cols + e] / sum / T;
        }
        int[] demand = routing.demand();
        double loss = 0;
        for (int e = 0; e < E; e++) loss += demand[e] * p[e];
        return loss * E / T;
    }

    /** The name. */
    public String name() { return name; }

    /** E. */
    public int numExperts() { return numExperts; }

    /** Steps recorded. */
    public int size() { return steps.size(); }

    /** The step numbers. */
    public double[] steps() { return toArray(steps.stream().map(Integer::doubleValue).toList()); }

    /** Task loss per step. */
    public double[] loss() { return toArray(loss); }

    /** Weighted balance loss per step. */
    public double[] auxLoss() { return toArray(auxLoss); }

    /** Unweighted Switch balance loss per step (diagnostic, every phase). */
    public double[] switchAux() { return toArray(switchAux); }

    /** Fraction of (token, slot) pairs dropped per step. */
    public double[] droppedFraction() { return toArray(dropped); }

    /** Mean per-token score entropy per step, nats. */
    public double[] tokenEntropy() { return toArray(tokenEntropy); }

    /** Load entropy per step, nats. */
    public double[] loadEntropy() { return toArray(loadEntropy); }

    /** Load max/mean per step. */
    public double[] imbalance() { return toArray(imbalance); }

    /** Throughput per step, tokens/s. */
    public double[] tokensPerSecond() { return toArray(tokensPerSecond); }

    /** Pairs per expert at step index i. */
    public int[] load(int i) { return load.get(i).clone(); }

    /** Whether any step had a selection bias with a value other than 0 (a bias that never moved is not worth a chart). */
    public boolean hasBias() {
        for (double[] b : bias) {
            if (b == null) continue;
            for (double v : b) if (v != 0) return true;
        }
        return false;
    }

    /** The selection bias of expert e per step (NaN where there was none). */
    public double[] bias(int expert) {
        double[] out = new double[bias.size()];
        for (int i = 0; i < out.length; i++) out[i] = bias.get(i) == null ? Double.NaN : bias.get(i)[expert];
        return out;
    }

    /** Stage times summed over the timed passes. */
    public StageTimes times() { return times; }

    private static double[] toArray(List<Double> l) {
        double[] a = new double[l.size()];
        for (int i = 0; i < a.length; i++) a[i] = l.get(i);
        return a;
    }
}
