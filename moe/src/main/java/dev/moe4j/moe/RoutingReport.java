package dev.moe4j.moe;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one forward pass of an {@link MoeLayer} did with its tokens, for printing: tokens per expert
 * (after capacity) beside the demand, dropped and unprocessed tokens, the balance losses, and the
 * permutation (the routing table).
 *
 * @param routing the routing of the pass
 * @param losses  the balance losses by name, unweighted (empty when none is configured)
 * @param auxLoss the weighted sum that {@link MoeLayer#auxLoss()} returns (0 when none)
 */
public record RoutingReport(Routing routing, Map<String, Double> losses, double auxLoss) {

    /** Copies the loss map. */
    public RoutingReport {
        losses = Collections.unmodifiableMap(new LinkedHashMap<>(losses));
    }

    /** Tokens (pairs) processed per expert [E]. */
    public int[] tokensPerExpert() { return routing.load(); }

    /**
     * Balance of the load: max load / mean load (1 = perfectly balanced; 0 for an empty batch).
     */
    public double maxOverMeanLoad() {
        int[] load = routing.load();
        double sum = 0, max = 0;
        for (int c : load) { sum += c; max = Math.max(max, c); }
        return sum == 0 ? 0 : max / (sum / load.length);
    }

    /** One line: the load per expert, the dropped pairs and the losses. */
    public String summary() {
        StringBuilder b = new StringBuilder("load ");
        int[] load = routing.load();
        for (int e = 0; e < load.length; e++) b.append(e == 0 ? "[" : " ").append(load[e]);
        b.append("] max/mean ").append(String.format("%.2f", maxOverMeanLoad()));
        b.append(", dropped ").append(routing.droppedPairs());
        if (routing.numNullExperts() > 0) b.append(", null ").append(routing.nullPairs());
        for (Map.Entry<String, Double> e : losses.entrySet()) b.append(", ").append(e.getKey()).append(' ').append(String.format("%.4g", e.getValue()));
        return b.toString();
    }

    /**
     * The report as a table: per expert its load, demand, share of the pairs and a bar; the dropped,
     * null and unprocessed counts; the losses; then the routing table with the permutation.
     */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        b.append("MoE routing report: ").append(routing.router()).append(", T=").append(routing.numTokens()).append(", E=")
                .append(routing.numExperts()).append(", k=").append(routing.topK()).append('\n');
        int[] load = routing.load(), demand = routing.demand();
        int total = 0, max = 1;
        for (int c : load) { total += c; max = Math.max(max, c); }
        b.append(String.format("%6s %6s %6s %7s%n", "expert", "load", "demand", "share"));
        for (int e = 0; e < load.length; e++) {
            b.append(String.format("%6d %6d %6d %6.1f%% ", e, load[e], demand[e], total == 0 ? 0.0 : 100.0 * load[e] / total));
            b.append("#".repeat((int) Math.round(30.0 * load[e] / max))).append('\n');
        }
        b.append("dropped pairs: ").append(routing.droppedPairs()).append(" (tokens with a dropped slot: ").append(routing.tokensWithDrops())
                .append("), tokens no expert processed: ").append(routing.unprocessedTokens());
        if (routing.numNullExperts() > 0) b.append(", pairs to null experts: ").append(routing.nullPairs());
        b.append('\n');
        if (!losses.isEmpty()) {
            b.append("losses:");
            for (Map.Entry<String, Double> e : losses.entrySet()) b.append(' ').append(e.getKey()).append('=').append(String.format("%.6g", e.getValue()));
            b.append(", weighted sum=").append(String.format("%.6g", auxLoss)).append('\n');
        }
        b.append(routing);
        return b.toString();
    }
}
