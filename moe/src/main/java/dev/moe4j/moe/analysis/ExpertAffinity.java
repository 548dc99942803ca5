package dev.moe4j.moe.analysis;

import dev.moe4j.moe.Routing;

/**
 * Inter-layer expert affinity (Yao et al., "Exploiting Inter-Layer Expert Affinity for Accelerating
 * Mixture-of-Experts Model Inference"; the same statistic drives expert prefetching in ExpertFlow):
 * a token that went to expert i in layer l tends to go to a few particular experts in layer l+1.
 * From the routing decisions of two consecutive layers over the same tokens it counts the
 * transitions and gives the conditional matrix
 * <pre>
 *   C[i, j]   = number of (token, slot in l, slot in l+1) with expert i in layer l and j in layer l+1
 *   P(j | i)  = C[i, j] / sum_j' C[i, j']                  [E_l, E_{l+1}], each row sums to 1
 * </pre>
 * (a token with k experts in each layer contributes k * k' transitions; slots not selected and
 * null experts contribute none; a row of an expert that saw no token is all 0). Feed batches with
 * {@link #add}; {@link ExpertPlacement} uses the counts to put high-affinity experts together.
 */
public final class ExpertAffinity {
    private final int lowerExperts, upperExperts;
    private final long[][] counts;

    /**
     * @param lowerExperts E_l, the experts of layer l
     * @param upperExperts E_{l+1}, the experts of layer l+1
     * @throws IllegalArgumentException for a count below 1
     */
    public ExpertAffinity(int lowerExperts, int upperExperts) {
        if (lowerExperts < 1 || upperExperts < 1) throw new IllegalArgumentException("expert counts must be >= 1, got " + lowerExperts + " and " + upperExperts);
        this.lowerExperts = lowerExperts;
        this.upperExperts = upperExperts;
        this.counts = new long[lowerExperts][upperExperts];
    }

    /**
     * Adds the routings of the two layers for one batch of the same T tokens.
     *
     * @param lower routing of layer l
     * @param upper routing of layer l+1
     * @return this
     * @throws IllegalArgumentException when the token counts or expert counts do not match
     */
    public ExpertAffinity add(Routing lower, Routing upper) {
        if (lower.numTokens() != upper.numTokens()) {
            throw new IllegalArgumentException("affinity needs the same tokens in both layers, got T = " + lower.numTokens() + " and " + upper.numTokens());
        }
        if (lower.numExperts() != lowerExperts || upper.numExperts() != upperExperts) {
            throw new IllegalArgumentException("affinity counts " + lowerExperts + " x " + upperExperts + " experts, the routings have "
                    + lower.numExperts() + " x " + upper.numExperts());
        }
        int T = lower.numTokens(), kl = lower.topK(), ku = upper.topK();
        int[] a = lower.expertIds(), b = upper.expertIds();
        for (int t = 0; t < T; t++) {
            for (int s = 0; s < kl; s++) {
                int p = t * kl + s;
                if (!lower.isSelected(p) || a[p] >= lowerExperts) continue;
                for (int s2 = 0; s2 < ku; s2++) {
                    int q = t * ku + s2;
                    if (!upper.isSelected(q) || b[q] >= upperExperts) continue;
                    counts[a[p]][b[q]]++;
                }
            }
        }
        return this;
    }

    /** E_l. */
    public int lowerExperts() { return lowerExperts; }

    /** E_{l+1}. */
    public int upperExperts() { return upperExperts; }

    /** The transition counts C [E_l][E_{l+1}] (a copy). */
    public long[][] counts() {
        long[][] c = new long[lowerExperts][];
        for (int i = 0; i < lowerExperts; i++) c[i] = counts[i].clone();
        return c;
    }

    /** P(expert j at layer l+1 | expert i at layer l) [E_l][E_{l+1}]; rows with no transitions are 0. */
    public double[][] conditional() {
        double[][] p = new double[lowerExperts][upperExperts];
        for (int i = 0; i < lowerExperts; i++) {
            long row = 0;
            for (long c : counts[i]) row += c;
            if (row == 0) continue;
            for (int j = 0; j < upperExperts; j++) p[i][j] = (double) counts[i][j] / row;
        }
        return p;
    }

    /** The conditional matrix as a table (rows: layer-l experts, columns: layer-l+1 experts). */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("P(expert j at l+1 | expert i at l)\n  i\\j");
        for (int j = 0; j < upperExperts; j++) b.append(String.format(" %6d", j));
        b.append('\n');
        double[][] p = conditional();
        for (int i = 0; i < lowerExperts; i++) {
            b.append(String.format("%5d", i));
            for (int j = 0; j < upperExperts; j++) b.append(String.format(" %6.3f", p[i][j]));
            b.append('\n');
        }
        return b.toString();
    }
}
