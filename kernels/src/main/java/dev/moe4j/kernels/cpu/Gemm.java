package dev.moe4j.kernels.cpu;

/**
 * General matrix multiplication (GEMM) on strided views of Java arrays:
 *
 * <pre>
 *   C[m, n] = alpha * A[m, k] * B[k, n] + beta * C[m, n]
 * </pre>
 *
 * <p><b>Operands.</b> {@code A} and {@code B} are views: element {@code A[i, p]} is
 * {@code a[aOff + i * aRs + p * aCs]} and {@code B[p, j]} is {@code b[bOff + p * bRs + j * bCs]}. A
 * row-major matrix has {@code (rs, cs) = (cols, 1)}; its transpose is the same array read with the
 * strides swapped, {@code (1, cols)}, so {@code op(A) = A^T} costs no copy (a tensor's {@code mT()}
 * is exactly that swap). {@code C} has unit column stride and row stride {@code ldc >= n}:
 * {@code C[i, j]} is {@code c[cOff + i * ldc + j]}.
 *
 * <p><b>beta.</b> As in BLAS, {@code beta == 0} means "overwrite": {@code C} is not read then, so
 * NaN or garbage in it does not leak into the result. With {@code k == 0} or {@code alpha == 0},
 * the call only scales {@code C} by {@code beta}.
 *
 * <p><b>Versions.</b> {@link #sgemmReference} and {@link #dgemmReference} are the executable spec:
 * the textbook triple loop, one dot product per element of {@code C}. {@link #sgemm} and
 * {@link #dgemm} are the fast versions ({@link SgemmBlocked}, {@link DgemmBlocked}): cache-blocked,
 * packed, register-tiled with the Vector API and split over {@link Parallel}. They round
 * differently (the sum over {@code k} is taken in another order), so compare them with a tolerance
 * relative to {@code sum_p |A[i,p]| |B[p,j]|}.
 *
 * <p>All entry points check their arguments first and throw {@link IllegalArgumentException}
 * naming the sizes, strides and array lengths at fault.
 */
public final class Gemm {
    private Gemm() {}

    // ------------------------------------------------------------------ scalar reference

    /**
     * Reference SGEMM: {@code C[m,n] = alpha * A[m,k] * B[k,n] + beta * C} by the triple loop, the
     * dot product over {@code k} accumulated in {@code float} from {@code p = 0} upwards.
     */
    public static void sgemmReference(int m, int n, int k, float alpha,
                                      float[] a, int aOff, int aRs, int aCs,
                                      float[] b, int bOff, int bRs, int bCs,
                                      float beta, float[] c, int cOff, int ldc) {
        check(m, n, k, a.length, aOff, aRs, aCs, b.length, bOff, bRs, bCs, c.length, cOff, ldc);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float dot = 0f;
                for (int p = 0; p < k; p++) dot += a[aOff + i * aRs + p * aCs] * b[bOff + p * bRs + j * bCs];
                int ci = cOff + i * ldc + j;
                c[ci] = beta == 0f ? alpha * dot : alpha * dot + beta * c[ci];
            }
        }
    }

    /**
     * Reference DGEMM: {@code C[m,n] = alpha * A[m,k] * B[k,n] + beta * C} by the triple loop, the
     * dot product over {@code k} accumulated in {@code double} from {@code p = 0} upwards.
     */
    public static void dgemmReference(int m, int n, int k, double alpha,
                                      double[] a, int aOff, int aRs, int aCs,
                                      double[] b, int bOff, int bRs, int bCs,
                                      double beta, double[] c, int cOff, int ldc) {
        check(m, n, k, a.length, aOff, aRs, aCs, b.length, bOff, bRs, bCs, c.length, cOff, ldc);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int p = 0; p < k; p++) dot += a[aOff + i * aRs + p * aCs] * b[bOff + p * bRs + j * bCs];
                int ci = cOff + i * ldc + j;
                c[ci] = beta == 0 ? alpha * dot : alpha * dot + beta * c[ci];
            }
        }
    }

    // ------------------------------------------------------------------ fast versions

    /**
     * SGEMM, {@code C[m,n] = alpha * A[m,k] * B[k,n] + beta * C}: the blocked, packed Vector API
     * version ({@link SgemmBlocked}), multi-threaded over {@link Parallel}. A call made from inside
     * a {@link Parallel} task runs on the calling thread only.
     */
    public static void sgemm(int m, int n, int k, float alpha,
                             float[] a, int aOff, int aRs, int aCs,
                             float[] b, int bOff, int bRs, int bCs,
                             float beta, float[] c, int cOff, int ldc) {
        check(m, n, k, a.length, aOff, aRs, aCs, b.length, bOff, bRs, bCs, c.length, cOff, ldc);
        SgemmBlocked.gemm(m, n, k, alpha, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc);
    }

    /**
     * DGEMM, {@code C[m,n] = alpha * A[m,k] * B[k,n] + beta * C}: the blocked, packed Vector API
     * version ({@link DgemmBlocked}), multi-threaded over {@link Parallel}.
     */
    public static void dgemm(int m, int n, int k, double alpha,
                             double[] a, int aOff, int aRs, int aCs,
                             double[] b, int bOff, int bRs, int bCs,
                             double beta, double[] c, int cOff, int ldc) {
        check(m, n, k, a.length, aOff, aRs, aCs, b.length, bOff, bRs, bCs, c.length, cOff, ldc);
        DgemmBlocked.gemm(m, n, k, alpha, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc);
    }

    /** Number of floating-point operations of one GEMM, {@code 2 m n k} (for GFLOP/s reports). */
    public static double flops(int m, int n, int k) { return 2.0 * m * n * k; }

    // ------------------------------------------------------------------ argument checks

    /**
     * Checks sizes and that every element the three views address lies inside its array.
     *
     * @throws IllegalArgumentException naming the operand, its view and the array length
     */
    static void check(int m, int n, int k, int aLen, int aOff, int aRs, int aCs,
                      int bLen, int bOff, int bRs, int bCs, int cLen, int cOff, int ldc) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("negative GEMM size m=" + m + ", n=" + n + ", k=" + k);
        }
        checkView("A", m, k, aLen, aOff, aRs, aCs);
        checkView("B", k, n, bLen, bOff, bRs, bCs);
        if (m > 1 && ldc < n) {
            throw new IllegalArgumentException("C row stride ldc=" + ldc + " is smaller than n=" + n + " (rows would overlap)");
        }
        checkView("C", m, n, cLen, cOff, ldc, 1);
    }

    /** Checks that the {@code rows x cols} view at {@code off} with strides {@code (rs, cs)} fits in {@code len}. */
    static void checkView(String name, int rows, int cols, int len, int off, int rs, int cs) {
        if (rows == 0 || cols == 0) return;
        long lo = off, hi = off;
        long spanR = (long) (rows - 1) * rs, spanC = (long) (cols - 1) * cs;
        if (spanR < 0) lo += spanR; else hi += spanR;
        if (spanC < 0) lo += spanC; else hi += spanC;
        if (lo < 0 || hi >= len) {
            throw new IllegalArgumentException(name + " view [" + rows + ", " + cols + "] at offset " + off + " with strides ("
                    + rs + ", " + cs + ") reaches element " + (lo < 0 ? lo : hi) + ", outside an array of length " + len);
        }
    }
}
