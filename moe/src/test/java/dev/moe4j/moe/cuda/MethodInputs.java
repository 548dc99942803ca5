package dev.moe4j.moe.cuda;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Inputs for the device tests of the MoE methods whose routing choices lead by a clear margin, so
 * that a bf16 rounding cannot flip a choice and the CPU and the device route alike.
 *
 * <p>The general tool is {@link #tokensFor}: token rows x whose products with the rows of a weight
 * matrix W [M, d] (M &lt;= d) are chosen target values, x = W^T (W W^T)^-1 target plus a little
 * noise. Stacking the rows of several weights (two routers of a chain, the gate and noise weights
 * of noisy top-k) sets all their logits at once.
 */
final class MethodInputs {
    private MethodInputs() {}

    /** The rows of a [M, d] tensor as doubles. */
    static double[][] rows(Tensor w) {
        int m = w.size(0), d = w.size(1);
        double[] a = w.cpu().toDoubleArray();
        double[][] r = new double[m][d];
        for (int i = 0; i < m; i++) System.arraycopy(a, i * d, r[i], 0, d);
        return r;
    }

    /** The rows of several matrices one after the other. */
    static double[][] stack(double[][]... parts) {
        int n = 0;
        for (double[][] p : parts) n += p.length;
        double[][] out = new double[n][];
        int i = 0;
        for (double[][] p : parts) for (double[] row : p) out[i++] = row;
        return out;
    }

    /** Each token's targets of several parts side by side: [T][M1 + M2 + ...]. */
    static double[][] join(double[][]... parts) {
        int T = parts[0].length;
        double[][] out = new double[T][];
        for (int t = 0; t < T; t++) {
            int n = 0;
            for (double[][] p : parts) n += p[t].length;
            out[t] = new double[n];
            int i = 0;
            for (double[][] p : parts) {
                System.arraycopy(p[t], 0, out[t], i, p[t].length);
                i += p[t].length;
            }
        }
        return out;
    }

    /**
     * Tokens x [T, d] (F32) with {@code x w_m = target[t][m] + n}, n from the noise x ~ N(0, 0.01^2):
     * x = W^T (W W^T)^-1 target + noise, with W [M, d] the given rows (linearly independent, M &lt;= d).
     */
    static Tensor tokensFor(double[][] w, double[][] target, Generator g) {
        int m = w.length, d = w[0].length, T = target.length;
        double[][] a = new double[m][2 * m];                                    // [W W^T | I], Gauss-Jordan
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += w[i][c] * w[j][c];
                a[i][j] = s;
            }
            a[i][m + i] = 1;
        }
        for (int col = 0; col < m; col++) {
            int piv = col;
            for (int r = col + 1; r < m; r++) if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) piv = r;
            double[] tmp = a[col]; a[col] = a[piv]; a[piv] = tmp;
            double v = a[col][col];
            for (int c = 0; c < 2 * m; c++) a[col][c] /= v;
            for (int r = 0; r < m; r++) {
                if (r == col) continue;
                double f = a[r][col];
                for (int c = 0; c < 2 * m; c++) a[r][c] -= f * a[col][c];
            }
        }
        double[] x = new double[T * d];
        for (int t = 0; t < T; t++) {
            if (target[t].length != m) throw new IllegalArgumentException("token " + t + " has " + target[t].length + " targets for " + m + " rows");
            double[] coef = new double[m];                                       // (W W^T)^-1 target
            for (int i = 0; i < m; i++) for (int j = 0; j < m; j++) coef[i] += a[i][m + j] * target[t][j];
            for (int c = 0; c < d; c++) {
                double s = 0.01 * g.nextGaussian();
                for (int i = 0; i < m; i++) s += w[i][c] * coef[i];
                x[t * d + c] = s;
            }
        }
        return Tensor.of(x, T, d).to(DType.F32);
    }

    /** A uniformly random permutation of 0 .. n-1. */
    static int[] permutation(Generator g, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = g.nextInt(i + 1);
            int tmp = p[i]; p[i] = p[j]; p[j] = tmp;
        }
        return p;
    }

    /**
     * A full ranking of n experts per token: the token's {@code first} experts in their order, then
     * the others in random order.
     */
    static int[] ranking(Generator g, int n, int[] first) {
        int[] order = new int[n];
        boolean[] used = new boolean[n];
        int i = 0;
        for (int e : first) {
            order[i++] = e;
            used[e] = true;
        }
        for (int e : permutation(g, n)) if (!used[e]) order[i++] = e;
        return order;
    }

    /** Targets [n] of one token falling by {@code spacing} along {@code order}, from {@code top}. */
    static double[] ladder(int[] order, double top, double spacing) {
        double[] v = new double[order.length];
        for (int i = 0; i < order.length; i++) v[order[i]] = top - spacing * i;
        return v;
    }

    /** Ladders for T tokens whose first experts are {@code choices[t]} (the rest random), over n experts. */
    static double[][] ladders(Generator g, int[][] choices, int n, double top, double spacing) {
        double[][] out = new double[choices.length][];
        for (int t = 0; t < choices.length; t++) out[t] = ladder(ranking(g, n, choices[t]), top, spacing);
        return out;
    }

    /**
     * Logits for dynamic top-p routing with threshold p over at most {@code maxExperts} slots: a
     * ladder in random order with a per-token spacing s, drawn until the cumulative softmax
     * probability before each slot 1 .. maxExperts-1 lies at least 0.05 away from p (so that
     * rounding cannot change how many experts a token takes).
     */
    static double[][] topPLogits(Generator g, int T, int n, double p, int maxExperts) {
        double[][] out = new double[T][];
        for (int t = 0; t < T; t++) {
            int[] order = permutation(g, n);
            double s;
            while (true) {
                s = 0.2 + 2.3 * g.nextDouble();
                double z = 0;
                for (int i = 0; i < n; i++) z += Math.exp(-s * i);
                double cumulative = 0, margin = Double.MAX_VALUE;
                for (int j = 1; j < maxExperts; j++) {
                    cumulative += Math.exp(-s * (j - 1)) / z;
                    margin = Math.min(margin, Math.abs(cumulative - p));
                }
                if (margin >= 0.05) break;
            }
            out[t] = ladder(order, 3, s);
        }
        return out;
    }

    /**
     * Logits [T][E] for expert-choice routing where each expert's chosen tokens lead clearly: every
     * token is taken by one expert ({@code T = E * (c - 1)} tokens spread over the experts), then each
     * expert takes one more token it does not hold yet; chosen pairs get logit 3, the others a
     * uniform value in [-1, 0]. With at most c experts per token, a chosen pair's probability is at
     * least e^3 / (c e^3 + E) and an unchosen one's at most 1 / e^3.
     *
     * @param c tokens per expert
     */
    static double[][] expertChoiceLogits(Generator g, int T, int E, int c) {
        if (T != E * (c - 1)) throw new IllegalArgumentException("need T = E (c - 1)");
        boolean[][] chosen = new boolean[T][E];
        int[] perm = permutation(g, T);
        for (int i = 0; i < T; i++) chosen[perm[i]][i / (c - 1)] = true;
        for (int e = 0; e < E; e++) {
            int t;
            do t = g.nextInt(T); while (chosen[t][e]);
            chosen[t][e] = true;
        }
        double[][] out = new double[T][E];
        for (int t = 0; t < T; t++) for (int e = 0; e < E; e++) out[t][e] = chosen[t][e] ? 3 : -g.nextDouble();
        return out;
    }

    /** T rows of the same constant targets over n outputs. */
    static double[][] constant(int T, int n, double v) {
        double[][] out = new double[T][n];
        for (double[] row : out) java.util.Arrays.fill(row, v);
        return out;
    }
}
