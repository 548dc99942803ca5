package dev.moe4j.kernels.cpu.moe;

import java.util.Arrays;
import java.util.Comparator;

/**
 * A second, deliberately different implementation of token-choice gating for one token, used to check
 * {@link GatingReference}: scores by other formulas (softmax as {@code 1 / sum_f exp(l_f - l_e)}, sigmoid as
 * {@code (1 + tanh(l / 2)) / 2}), groups and experts ranked by sorting with a comparator instead of arg-max
 * passes. It also reports how close the decision came to a tie, so random tests can avoid inputs where float
 * and double rounding may legitimately choose differently.
 */
final class IndependentGating {
    private IndependentGating() {}

    /**
     * @param ids     k expert ids in rank order
     * @param weights k gate weights
     * @param margin  the smallest gap between neighbours that decide the result: consecutive experts among the
     *                first k + 1 ranked (not counting two masked experts, which tie exactly), and the groups at
     *                the keep / drop boundary
     */
    record Routed(int[] ids, double[] weights, double margin) {}

    static Routed route(GatingConfig c, double[] logits, double[] bias) {
        int E = logits.length, k = c.k();
        double[] s = new double[E];
        for (int e = 0; e < E; e++) {
            if (c.scoreFunction() == ScoreFunction.SOFTMAX) {
                double denominator = 0;
                for (int f = 0; f < E; f++) denominator += Math.exp(logits[f] - logits[e]);
                s[e] = 1 / denominator;
            } else {
                s[e] = (1 + Math.tanh(logits[e] / 2)) / 2;
            }
        }
        double[] choice = new double[E];
        for (int e = 0; e < E; e++) choice[e] = s[e] + (bias == null ? 0 : bias[e]);

        double margin = Double.POSITIVE_INFINITY;
        boolean[] masked = new boolean[E];
        if (c.nGroup() > 1) {
            int size = E / c.nGroup();
            double[] groupScore = new double[c.nGroup()];
            for (int g = 0; g < c.nGroup(); g++) {
                double[] members = Arrays.copyOfRange(choice, g * size, (g + 1) * size);
                Arrays.sort(members);                                       // ascending
                double best = members[size - 1];
                groupScore[g] = c.groupScore() == GroupScore.MAX ? best : best + members[size - 2];
            }
            Integer[] groups = rank(groupScore);
            if (c.topkGroup() < c.nGroup()) {
                margin = Math.min(margin, groupScore[groups[c.topkGroup() - 1]] - groupScore[groups[c.topkGroup()]]);
            }
            for (int i = c.topkGroup(); i < c.nGroup(); i++) {
                int g = groups[i];
                for (int e = g * size; e < (g + 1) * size; e++) {
                    masked[e] = true;
                    choice[e] = c.maskedScore();
                }
            }
        }
        Integer[] experts = rank(choice);
        for (int i = 0; i < Math.min(k, E - 1); i++) {
            int a = experts[i], b = experts[i + 1];
            if (!(masked[a] && masked[b])) margin = Math.min(margin, choice[a] - choice[b]);
        }
        int[] ids = new int[k];
        double[] weights = new double[k];
        double sum = 0;
        for (int j = 0; j < k; j++) {
            ids[j] = experts[j];
            sum += s[ids[j]];
        }
        for (int j = 0; j < k; j++) {
            double p = s[ids[j]];
            weights[j] = c.scale() * (c.renormalize() ? p / (sum + c.renormEps()) : p);
        }
        return new Routed(ids, weights, margin);
    }

    /** Indices sorted by value falling, equal values by index rising (a stable sort of a falling order). */
    private static Integer[] rank(double[] v) {
        Integer[] idx = new Integer[v.length];
        for (int i = 0; i < v.length; i++) idx[i] = i;
        Arrays.sort(idx, Comparator.comparingDouble((Integer i) -> v[i]).reversed());
        return idx;
    }
}
