package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The Tsallis entropy of a router's distribution, normalised to [0, 1] by its value at the uniform
 * distribution, as DynMoLE measures router uncertainty with it.
 * <pre>
 *   S_q(p)   = (1 - sum_i p_i^q) / (q - 1)              q != 1
 *   S_1(p)   = - sum_i p_i ln p_i                        (the Shannon limit q -&gt; 1)
 *   max S_q  = S_q(uniform over N) = (1 - N^(1-q)) / (q - 1),   ln N for q = 1
 *   H_q(p)   = S_q(p) / max S_q                          0 for a one-hot p, 1 for the uniform one
 * </pre>
 * For N = 1 the entropy is 0. The index q (DynMoLE's {@code entropy_index}, default 1.1) lies in
 * (0, 2]; q below 1 weighs small probabilities more, q above 1 less.
 */
public final class TsallisEntropy {
    private TsallisEntropy() {}

    /**
     * @throws IllegalArgumentException for q outside (0, 2]
     */
    static void checkIndex(double q) {
        if (!(q > 0 && q <= 2)) throw new IllegalArgumentException("Tsallis entropy index q must lie in (0, 2], got " + q);
    }

    /** max S_q for N outcomes (0 for N = 1). */
    public static double maximum(int n, double q) {
        checkIndex(q);
        if (n < 1) throw new IllegalArgumentException("entropy needs N >= 1 outcomes, got " + n);
        if (n == 1) return 0;
        return q == 1 ? Math.log(n) : (1 - Math.pow(n, 1 - q)) / (q - 1);
    }

    /**
     * H_q of each row, differentiable.
     *
     * @param p [T, N] rows of probabilities (softmax output: every entry &gt; 0)
     * @param q the index in (0, 2]
     * @return [T] in [0, 1]
     * @throws IllegalArgumentException for a p that is not [T, N] or a bad q
     */
    public static Tensor normalized(Tensor p, double q) {
        checkIndex(q);
        if (p.rank() != 2) throw new IllegalArgumentException("entropy: p must be [T, N], got " + Shape.str(p.shape()));
        int n = p.size(1);
        double max = maximum(n, q);
        if (max == 0) return F.mul(F.sum(p, 1, false), 0.0);
        Tensor s = q == 1
                ? F.neg(F.sum(F.mul(p, F.log(p)), 1, false))
                : F.div(F.rsub(1.0, F.sum(F.pow(p, q), 1, false)), q - 1);
        return F.div(s, max);
    }

    /** H_q of the N probabilities {@code p[off .. off + n - 1]} (zeros allowed). */
    public static double normalized(double[] p, int off, int n, double q) {
        double max = maximum(n, q);
        if (max == 0) return 0;
        double s = 0;
        if (q == 1) {
            for (int i = 0; i < n; i++) if (p[off + i] > 0) s -= p[off + i] * Math.log(p[off + i]);
        } else {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += Math.pow(p[off + i], q);
            s = (1 - sum) / (q - 1);
        }
        return s / max;
    }
}
