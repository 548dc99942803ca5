package dev.moe4j.lora.cuda;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Token rows whose router logits are chosen: for rows W [E, d] (E &lt;= d, full row rank) and a
 * target [T][E], x[t] = W^T (W W^T)^-1 target[t] + n, n ~ N(0, 0.01^2), so that W x[t] = target[t]
 * up to the noise. Routing layers are tested on such tokens with targets whose decisions lead by a
 * clear margin, so that bf16 rounding cannot flip a choice and the device and the CPU route alike.
 */
final class Tokens {
    private Tokens() {}

    /** x [T, d] (F32) with {@code w x[t] ~ target[t]}; w is [E, d] row-major in double. */
    static Tensor withLogits(double[] w, int e, int d, double[][] target, Generator g) {
        double[][] inv = gramInverse(w, e, d);
        int T = target.length;
        double[] x = new double[T * d];
        for (int t = 0; t < T; t++) {
            double[] coef = new double[e];                                       // (W W^T)^-1 target
            for (int i = 0; i < e; i++) for (int j = 0; j < e; j++) coef[i] += inv[i][j] * target[t][j];
            for (int c = 0; c < d; c++) {
                double s = 0.01 * g.nextGaussian();
                for (int i = 0; i < e; i++) s += w[i * d + c] * coef[i];
                x[t * d + c] = s;
            }
        }
        return Tensor.of(x, T, d).to(DType.F32);
    }

    /** (W W^T)^-1 by Gauss-Jordan with partial pivoting. */
    private static double[][] gramInverse(double[] w, int e, int d) {
        double[][] m = new double[e][2 * e];
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < e; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += w[i * d + c] * w[j * d + c];
                m[i][j] = s;
            }
            m[i][e + i] = 1;
        }
        for (int col = 0; col < e; col++) {
            int piv = col;
            for (int r = col + 1; r < e; r++) if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) piv = r;
            double[] tmp = m[col];
            m[col] = m[piv];
            m[piv] = tmp;
            double v = m[col][col];
            if (Math.abs(v) < 1e-12) throw new IllegalStateException("router rows are linearly dependent");
            for (int c = 0; c < 2 * e; c++) m[col][c] /= v;
            for (int r = 0; r < e; r++) {
                if (r == col) continue;
                double f = m[r][col];
                for (int c = 0; c < 2 * e; c++) m[r][c] -= f * m[col][c];
            }
        }
        double[][] inv = new double[e][e];
        for (int i = 0; i < e; i++) System.arraycopy(m[i], e, inv[i], 0, e);
        return inv;
    }

    /** Rows of several weights stacked: [sum E_i, d] row-major. */
    static double[] stack(Tensor... weights) {
        int rows = 0, d = weights[0].size(1);
        for (Tensor w : weights) rows += w.size(0);
        double[] out = new double[rows * d];
        int at = 0;
        for (Tensor w : weights) {
            double[] v = w.cpu().toDoubleArray();
            System.arraycopy(v, 0, out, at, v.length);
            at += v.length;
        }
        return out;
    }

    /** softmax of one row. */
    static double[] softmax(double[] l) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (double v : l) max = Math.max(max, v);
        double[] p = new double[l.length];
        for (int i = 0; i < l.length; i++) sum += p[i] = Math.exp(l[i] - max);
        for (int i = 0; i < l.length; i++) p[i] /= sum;
        return p;
    }

    /** The values sorted descending. */
    static double[] descending(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        for (int i = 0; i < s.length / 2; i++) {
            double t = s[i];
            s[i] = s[s.length - 1 - i];
            s[s.length - 1 - i] = t;
        }
        return s;
    }

    /** The smallest gap between consecutive values among the first {@code m + 1} of a descending array (m decisions). */
    static double leadingGap(double[] sortedDescending, int m) {
        double gap = Double.POSITIVE_INFINITY;
        for (int j = 0; j < Math.min(m, sortedDescending.length - 1); j++) gap = Math.min(gap, sortedDescending[j] - sortedDescending[j + 1]);
        return gap;
    }

    /** Row t of a [T, n] double array. */
    static double[] row(double[] a, int t, int n) {
        double[] r = new double[n];
        System.arraycopy(a, t * n, r, 0, n);
        return r;
    }
}
