package dev.moe4j.bench.insight;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Stage 5, the balance mechanism: the balance losses of the batch (each unweighted, with the
 * coefficient that weights it into the training loss; a coefficient of 0 means shown but not
 * trained on), the load statistics, and for auxiliary-loss-free balancing the selection bias with
 * the step {@code u * sign(mean load - load)} the next update adds.
 * <pre>
 *   switch_aux   = E * sum_e f_e P_e     f_e: share of pairs routed to e, P_e: mean router probability of e
 *   z_loss       = mean_t logsumexp(logits_t)^2
 *   sequence_aux = sum_e f_e P_e per sequence (DeepSeek-V3), on normalised scores
 * </pre>
 */
public final class BalanceView {
    private final Map<String, Double> losses, coefficients;
    private final double weightedSum;
    private final int[] load;
    private final double[] bias;
    private final double biasRate, tokenEntropy;

    /**
     * @param losses       loss name &rarr; unweighted value
     * @param coefficients loss name &rarr; coefficient (0 or absent: not part of the training loss)
     * @param weightedSum  sum of coefficient * loss
     * @param load         [E] pairs processed per expert
     * @param bias         [E'] selection bias, or null
     * @param biasRate     u of the auxiliary-loss-free update (0: off)
     * @param tokenEntropy mean per-token score entropy in nats (NaN when unknown)
     */
    public BalanceView(Map<String, Double> losses, Map<String, Double> coefficients, double weightedSum, int[] load, double[] bias,
                       double biasRate, double tokenEntropy) {
        this.losses = Collections.unmodifiableMap(new LinkedHashMap<>(losses));
        this.coefficients = Collections.unmodifiableMap(new LinkedHashMap<>(coefficients));
        this.weightedSum = weightedSum;
        this.load = load.clone();
        this.bias = bias == null ? null : bias.clone();
        this.biasRate = biasRate;
        this.tokenEntropy = tokenEntropy;
    }

    /** Unweighted losses by name. */
    public Map<String, Double> losses() { return losses; }

    /** The weighted sum added to the training loss. */
    public double weightedSum() { return weightedSum; }

    /** The step of the auxiliary-loss-free update per expert, {@code u * sign(mean - load)} (zeros when off). */
    public double[] biasStep() {
        double[] step = new double[load.length];
        if (biasRate == 0) return step;
        double mean = 0;
        for (int c : load) mean += c;
        mean /= load.length;
        for (int e = 0; e < load.length; e++) step[e] = biasRate * Math.signum(mean - load[e]);
        return step;
    }

    /** The stage as text: a loss table, load statistics, and the bias table when there is a bias. */
    public String text() {
        StringBuilder b = new StringBuilder();
        TextTable t = new TextTable("loss", "value", "coefficient", "weighted");
        t.title("5. balance: losses on the router's logits / scores (coefficient 0: computed for display only)");
        for (Map.Entry<String, Double> e : losses.entrySet()) {
            double c = coefficients.getOrDefault(e.getKey(), 0.0);
            t.row(e.getKey(), e.getValue(), c == 0 ? "0 (off)" : Fmt.num(c), c * e.getValue());
        }
        if (losses.isEmpty()) t.note("(no losses: the router has no logits)");
        t.note("weighted sum added to the training loss: " + Fmt.num(weightedSum));
        b.append(t);
        b.append("load max/mean ").append(Fmt.fixed(RoutingStats.imbalance(load), 3))
                .append(", load entropy ").append(Fmt.fixed(RoutingStats.loadEntropy(load), 4)).append(" nats (max ln E = ")
                .append(Fmt.fixed(Math.log(load.length), 4)).append(")");
        if (!Double.isNaN(tokenEntropy)) b.append(", mean token score entropy ").append(Fmt.fixed(tokenEntropy, 4)).append(" nats");
        b.append('\n');
        if (bias != null) {
            double[] step = biasStep();
            TextTable bt = new TextTable("expert", "load", "bias", "next step");
            bt.title("auxiliary-loss-free balancing: bias += u * sign(mean load - load), u = " + Fmt.num(biasRate));
            for (int e = 0; e < load.length; e++) bt.row(e, load[e], bias[e], biasRate == 0 ? "(off)" : Fmt.num(step[e]));
            b.append(bt);
        }
        return b.toString();
    }

    @Override
    public String toString() { return text(); }
}
