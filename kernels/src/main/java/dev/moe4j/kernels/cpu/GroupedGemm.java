package dev.moe4j.kernels.cpu;

/**
 * Grouped GEMM: one matrix product per expert of a Mixture-of-Experts layer, over ragged groups
 * of rows, and the two products of its backward pass.
 *
 * <h2>Shapes</h2>
 * <pre>
 *   offsets [E + 1]   non-decreasing row offsets: group e is rows offsets[e] .. offsets[e+1]-1
 *   A       [M, K]    row-major, M = offsets[E]  (tokens sorted by expert, e.g. after permute)
 *   B       [E, K, N] (Layout.KN) or [E, N, K] (Layout.NK, e.g. nn.Linear weights [out, in])
 *   C, dC   [M, N]    row-major
 * </pre>
 * Groups may be empty ({@code offsets[e] == offsets[e+1]}), which is how experts that received no
 * token appear. Rows before {@code offsets[0]} are not touched.
 *
 * <h2>The three products</h2>
 * <pre>
 *   forward         C[rows_e, :]  = alpha * A[rows_e, :]  * B_e        + beta * C[rows_e, :]
 *   backwardInput   dA[rows_e, :] = alpha * dC[rows_e, :] * B_e^T      + beta * dA[rows_e, :]
 *   backwardWeight  dB_e          = alpha * A[rows_e, :]^T * dC[rows_e, :] + beta * dB_e
 * </pre>
 * {@code dB} has the layout of {@code B}: {@code [E, K, N]} for {@link Layout#KN}, {@code [E, N, K]}
 * (so {@code dB_e^T} is stored) for {@link Layout#NK}. For an empty group {@code dB_e} is
 * {@code beta * dB_e} (zero with {@code beta = 0}), since it sums over no rows.
 *
 * <h2>Algorithm</h2>
 * Each group is an ordinary GEMM on views of the same arrays: no rows are copied, and the
 * transposes ({@code B_e^T}, {@code A_e^T}) are strides handed to the packing routines of
 * {@link SgemmBlocked}. The E problems form one batch that {@link GemmTasks} cuts into
 * (group, row-range) tasks, largest first, so a skewed routing (one hot expert) is split over all
 * threads while many small groups are spread one per task. The {@code *Reference} methods are the
 * executable spec: plain loops, one dot product per output element.
 *
 * <p>Arguments are checked first ({@link IllegalArgumentException} naming the offsets, sizes and
 * array lengths at fault).
 */
public final class GroupedGemm {
    private GroupedGemm() {}

    /** Memory layout of the stacked expert matrices {@code B} (and of {@code dB}). */
    public enum Layout {
        /** {@code [E, K, N]}: {@code B_e[p, j] = b[bOff + e*K*N + p*N + j]}. */
        KN,
        /** {@code [E, N, K]}: {@code B_e[p, j] = b[bOff + e*N*K + j*K + p]} (each expert stored transposed). */
        NK
    }

    // ------------------------------------------------------------------ scalar references (float)

    /** Reference forward: {@code C[rows_e] = alpha * A[rows_e] * B_e + beta * C[rows_e]}, dot products in float. */
    public static void forwardReference(int[] offsets, int k, int n, float alpha, float[] a, int aOff,
                                        float[] b, int bOff, Layout layout, float beta, float[] c, int cOff) {
        checkForward(offsets, k, n, a.length, aOff, b.length, bOff, layout, c.length, cOff);
        int bKs = layout == Layout.KN ? n : 1, bNs = layout == Layout.KN ? 1 : k;
        for (int e = 0; e + 1 < offsets.length; e++) {
            int be = bOff + e * k * n;
            for (int i = offsets[e]; i < offsets[e + 1]; i++) {
                for (int j = 0; j < n; j++) {
                    float dot = 0f;
                    for (int p = 0; p < k; p++) dot += a[aOff + i * k + p] * b[be + p * bKs + j * bNs];
                    int ci = cOff + i * n + j;
                    c[ci] = beta == 0f ? alpha * dot : alpha * dot + beta * c[ci];
                }
            }
        }
    }

    /** Reference input gradient: {@code dA[rows_e] = alpha * dC[rows_e] * B_e^T + beta * dA[rows_e]}. */
    public static void backwardInputReference(int[] offsets, int k, int n, float alpha, float[] dc, int dcOff,
                                              float[] b, int bOff, Layout layout, float beta, float[] da, int daOff) {
        checkBackwardInput(offsets, k, n, dc.length, dcOff, b.length, bOff, layout, da.length, daOff);
        int bKs = layout == Layout.KN ? n : 1, bNs = layout == Layout.KN ? 1 : k;
        for (int e = 0; e + 1 < offsets.length; e++) {
            int be = bOff + e * k * n;
            for (int i = offsets[e]; i < offsets[e + 1]; i++) {
                for (int p = 0; p < k; p++) {
                    float dot = 0f;
                    for (int j = 0; j < n; j++) dot += dc[dcOff + i * n + j] * b[be + p * bKs + j * bNs];
                    int di = daOff + i * k + p;
                    da[di] = beta == 0f ? alpha * dot : alpha * dot + beta * da[di];
                }
            }
        }
    }

    /** Reference weight gradient: {@code dB_e = alpha * A[rows_e]^T * dC[rows_e] + beta * dB_e}, in the layout of B. */
    public static void backwardWeightReference(int[] offsets, int k, int n, float alpha, float[] a, int aOff,
                                               float[] dc, int dcOff, float beta, float[] db, int dbOff, Layout layout) {
        checkBackwardWeight(offsets, k, n, a.length, aOff, dc.length, dcOff, db.length, dbOff, layout);
        int bKs = layout == Layout.KN ? n : 1, bNs = layout == Layout.KN ? 1 : k;
        for (int e = 0; e + 1 < offsets.length; e++) {
            int be = dbOff + e * k * n;
            for (int p = 0; p < k; p++) {
                for (int j = 0; j < n; j++) {
                    float dot = 0f;
                    for (int i = offsets[e]; i < offsets[e + 1]; i++) dot += a[aOff + i * k + p] * dc[dcOff + i * n + j];
                    int di = be + p * bKs + j * bNs;
                    db[di] = beta == 0f ? alpha * dot : alpha * dot + beta * db[di];
                }
            }
        }
    }

    // ------------------------------------------------------------------ scalar references (double)

    /** Reference forward in double (for gradient checks); see {@link #forwardReference(int[], int, int, float, float[], int, float[], int, Layout, float, float[], int)}. */
    public static void forwardReference(int[] offsets, int k, int n, double alpha, double[] a, int aOff,
                                        double[] b, int bOff, Layout layout, double beta, double[] c, int cOff) {
        checkForward(offsets, k, n, a.length, aOff, b.length, bOff, layout, c.length, cOff);
        int bKs = layout == Layout.KN ? n : 1, bNs = layout == Layout.KN ? 1 : k;
        for (int e = 0; e + 1 < offsets.length; e++) {
            int be = bOff + e * k * n;
            for (int i = offsets[e]; i < offsets[e + 1]; i++) {
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int p = 0; p < k; p++) dot += a[aOff + i * k + p] * b[be + p * bKs + j * bNs];
                    int ci = cOff + i * n + j;
                    c[ci] = beta == 0 ? alpha * dot : alpha * dot + beta * c[ci];
                }
            }
        }
    }

    /** Reference input gradient in double; see the float version. */
    public static void backwardInputReference(int[] offsets, int k, int n, double alpha, double[] dc, int dcOff,
                                              double[] b, int bOff, Layout layout, double beta, double[] da, int daOff) {
        checkBackwardInput(offsets, k, n, dc.length, dcOff, b.length, bOff, layout, da.length, daOff);
        int bKs = layout == Layout.KN ? n : 1, bNs = layout == Layout.KN ? 1 : k;
        for (int e = 0; e + 1 < offsets.length; e++) {
            int be = bOff + e * k * n;
            for (int i = offsets[e]; i < offsets[e + 1]; i++) {
                for (int p = 0; p < k; p++) {
                    double dot = 0;
                    for (int j = 0; j < n; j++) dot += dc[dcOff + i * n + j] * b[be + p * bKs + j * bNs];
                    int di = daOff + i * k + p;
                    da[di] = beta == 0 ? alpha * dot : alpha * dot + beta * da[di];
                }
            }
        }
    }

    /** Reference weight gradient in double; see the float version. */
    public static void backwardWeightReference(int[] offsets, int k, int n, double alpha, double[] a, int aOff,
                                               double[] dc, int dcOff, double beta, double[] db, int dbOff, Layout layout) {
        checkBackwardWeight(offsets, k, n, a.length, aOff, dc.length, dcOff, db.length, dbOff, layout);
        int bKs = layout == Layout.KN ? n : 1, bNs = layout == Layout.KN ? 1 : k;
        for (int e = 0; e + 1 < offsets.length; e++) {
            int be = dbOff + e * k * n;
            for (int p = 0; p < k; p++) {
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int i = offsets[e]; i < offsets[e + 1]; i++) dot += a[aOff + i * k + p] * dc[dcOff + i * n + j];
                    int di = be + p * bKs + j * bNs;
                    db[di] = beta == 0 ? alpha * dot : alpha * dot + beta * db[di];
                }
            }
        }
    }

    // ------------------------------------------------------------------ fast versions (float)

    /** Forward, {@code C[rows_e] = alpha * A[rows_e] * B_e + beta * C[rows_e]}: blocked SGEMM per group, multi-threaded over (group, rows). */
    public static void forward(int[] offsets, int k, int n, float alpha, float[] a, int aOff,
                               float[] b, int bOff, Layout layout, float beta, float[] c, int cOff) {
        checkForward(offsets, k, n, a.length, aOff, b.length, bOff, layout, c.length, cOff);
        Batch q = Batch.forward(offsets, k, n, aOff, bOff, layout, cOff);
        SgemmBlocked.batch(q.count, q.m, q.k, q.n, alpha, a, q.aOff, q.aRs, q.aCs, b, q.bOff, q.bRs, q.bCs,
                beta, c, q.cOff, q.ldc, 2);
    }

    /** Input gradient, {@code dA[rows_e] = alpha * dC[rows_e] * B_e^T + beta * dA[rows_e]}: blocked SGEMM per group. */
    public static void backwardInput(int[] offsets, int k, int n, float alpha, float[] dc, int dcOff,
                                     float[] b, int bOff, Layout layout, float beta, float[] da, int daOff) {
        checkBackwardInput(offsets, k, n, dc.length, dcOff, b.length, bOff, layout, da.length, daOff);
        Batch q = Batch.backwardInput(offsets, k, n, dcOff, bOff, layout, daOff);
        SgemmBlocked.batch(q.count, q.m, q.k, q.n, alpha, dc, q.aOff, q.aRs, q.aCs, b, q.bOff, q.bRs, q.bCs,
                beta, da, q.cOff, q.ldc, 2);
    }

    /** Weight gradient, {@code dB_e = alpha * A[rows_e]^T * dC[rows_e] + beta * dB_e} in the layout of B: blocked SGEMM per expert. */
    public static void backwardWeight(int[] offsets, int k, int n, float alpha, float[] a, int aOff,
                                      float[] dc, int dcOff, float beta, float[] db, int dbOff, Layout layout) {
        checkBackwardWeight(offsets, k, n, a.length, aOff, dc.length, dcOff, db.length, dbOff, layout);
        Batch q = Batch.backwardWeight(offsets, k, n, aOff, dcOff, dbOff, layout);
        // For Layout.KN the left operand is A^T and the right one dC; for NK, dC^T and A.
        float[] left = layout == Layout.KN ? a : dc, right = layout == Layout.KN ? dc : a;
        SgemmBlocked.batch(q.count, q.m, q.k, q.n, alpha, left, q.aOff, q.aRs, q.aCs, right, q.bOff, q.bRs, q.bCs,
                beta, db, q.cOff, q.ldc, 2);
    }

    // ------------------------------------------------------------------ fast versions (double)

    /** Forward in double: blocked DGEMM per group; see the float version. */
    public static void forward(int[] offsets, int k, int n, double alpha, double[] a, int aOff,
                               double[] b, int bOff, Layout layout, double beta, double[] c, int cOff) {
        checkForward(offsets, k, n, a.length, aOff, b.length, bOff, layout, c.length, cOff);
        Batch q = Batch.forward(offsets, k, n, aOff, bOff, layout, cOff);
        DgemmBlocked.batch(q.count, q.m, q.k, q.n, alpha, a, q.aOff, q.aRs, q.aCs, b, q.bOff, q.bRs, q.bCs,
                beta, c, q.cOff, q.ldc, 2);
    }

    /** Input gradient in double; see the float version. */
    public static void backwardInput(int[] offsets, int k, int n, double alpha, double[] dc, int dcOff,
                                     double[] b, int bOff, Layout layout, double beta, double[] da, int daOff) {
        checkBackwardInput(offsets, k, n, dc.length, dcOff, b.length, bOff, layout, da.length, daOff);
        Batch q = Batch.backwardInput(offsets, k, n, dcOff, bOff, layout, daOff);
        DgemmBlocked.batch(q.count, q.m, q.k, q.n, alpha, dc, q.aOff, q.aRs, q.aCs, b, q.bOff, q.bRs, q.bCs,
                beta, da, q.cOff, q.ldc, 2);
    }

    /** Weight gradient in double; see the float version. */
    public static void backwardWeight(int[] offsets, int k, int n, double alpha, double[] a, int aOff,
                                      double[] dc, int dcOff, double beta, double[] db, int dbOff, Layout layout) {
        checkBackwardWeight(offsets, k, n, a.length, aOff, dc.length, dcOff, db.length, dbOff, layout);
        Batch q = Batch.backwardWeight(offsets, k, n, aOff, dcOff, dbOff, layout);
        double[] left = layout == Layout.KN ? a : dc, right = layout == Layout.KN ? dc : a;
        DgemmBlocked.batch(q.count, q.m, q.k, q.n, alpha, left, q.aOff, q.aRs, q.aCs, right, q.bOff, q.bRs, q.bCs,
                beta, db, q.cOff, q.ldc, 2);
    }

    /** Total rows {@code M = offsets[E]} covered by the groups. */
    public static int rows(int[] offsets) { return offsets[offsets.length - 1]; }

    // ------------------------------------------------------------------ per-group GEMM views

    /**
     * The E per-group GEMMs of one product as views into the caller's arrays: problem {@code e} is
     * {@code C_e[m[e], n] = L_e[m[e], k[e]] * R_e[k[e], n]}, with the left operand at
     * {@code aOff[e]} (strides {@code aRs, aCs}), the right one at {@code bOff[e]} ({@code bRs, bCs})
     * and the output at {@code cOff[e]} (row stride {@code ldc}).
     */
    private record Batch(int count, int[] m, int[] k, int n, int[] aOff, int aRs, int aCs,
                         int[] bOff, int bRs, int bCs, int[] cOff, int ldc) {

        /** C_e = A_e [M_e, K] * B_e [K, N]. */
        static Batch forward(int[] off, int k, int n, int aOff, int bOff, Layout layout, int cOff) {
            int e = off.length - 1;
            int[] m = new int[e], kk = new int[e], ao = new int[e], bo = new int[e], co = new int[e];
            for (int g = 0; g < e; g++) {
                m[g] = off[g + 1] - off[g];
                kk[g] = k;
                ao[g] = aOff + off[g] * k;
                bo[g] = bOff + g * k * n;
                co[g] = cOff + off[g] * n;
            }
            boolean kn = layout == Layout.KN;
            return new Batch(e, m, kk, n, ao, k, 1, bo, kn ? n : 1, kn ? 1 : k, co, n);
        }

        /** dA_e [M_e, K] = dC_e [M_e, N] * B_e^T [N, K]. */
        static Batch backwardInput(int[] off, int k, int n, int dcOff, int bOff, Layout layout, int daOff) {
            int e = off.length - 1;
            int[] m = new int[e], kk = new int[e], ao = new int[e], bo = new int[e], co = new int[e];
            for (int g = 0; g < e; g++) {
                m[g] = off[g + 1] - off[g];
                kk[g] = n;
                ao[g] = dcOff + off[g] * n;
                bo[g] = bOff + g * k * n;
                co[g] = daOff + off[g] * k;
            }
            // B_e^T[j, p] = B_e[p, j]: KN stores B_e[p, j] at p*N + j, NK at j*K + p.
            boolean kn = layout == Layout.KN;
            return new Batch(e, m, kk, k, ao, n, 1, bo, kn ? 1 : k, kn ? n : 1, co, k);
        }

        /**
         * KN: dB_e [K, N] = A_e^T [K, M_e] * dC_e [M_e, N]. NK: dB_e^T [N, K] = dC_e^T [N, M_e] * A_e [M_e, K].
         * Every expert is a problem, the empty ones too (they only write {@code beta * dB_e}).
         */
        static Batch backwardWeight(int[] off, int k, int n, int aOff, int dcOff, int dbOff, Layout layout) {
            int e = off.length - 1;
            boolean kn = layout == Layout.KN;
            int[] m = new int[e], kk = new int[e], ao = new int[e], bo = new int[e], co = new int[e];
            for (int g = 0; g < e; g++) {
                m[g] = kn ? k : n;
                kk[g] = off[g + 1] - off[g];
                ao[g] = kn ? aOff + off[g] * k : dcOff + off[g] * n;
                bo[g] = kn ? dcOff + off[g] * n : aOff + off[g] * k;
                co[g] = dbOff + g * k * n;
            }
            return kn ? new Batch(e, m, kk, n, ao, 1, k, bo, n, 1, co, n)
                      : new Batch(e, m, kk, k, ao, 1, n, bo, k, 1, co, k);
        }
    }

    // ------------------------------------------------------------------ argument checks

    private static void checkOffsets(int[] offsets) {
        if (offsets == null || offsets.length == 0) {
            throw new IllegalArgumentException("offsets must have length E + 1 >= 1, got " + (offsets == null ? "null" : "length 0"));
        }
        if (offsets[0] < 0) throw new IllegalArgumentException("offsets[0] = " + offsets[0] + " is negative");
        for (int e = 0; e + 1 < offsets.length; e++) {
            if (offsets[e + 1] < offsets[e]) {
                throw new IllegalArgumentException("offsets must be non-decreasing, but offsets[" + e + "] = " + offsets[e]
                        + " > offsets[" + (e + 1) + "] = " + offsets[e + 1]);
            }
        }
    }

    private static void checkSizes(int[] offsets, int k, int n) {
        checkOffsets(offsets);
        if (k < 0 || n < 0) throw new IllegalArgumentException("negative size K=" + k + ", N=" + n);
    }

    private static void checkMatrix(String name, String shape, long elements, int off, int len) {
        if (off < 0 || off + elements > len) {
            throw new IllegalArgumentException(name + " " + shape + " at offset " + off + " needs " + elements
                    + " elements, but the array has length " + len);
        }
    }

    private static void checkForward(int[] offsets, int k, int n, int aLen, int aOff, int bLen, int bOff, Layout layout, int cLen, int cOff) {
        checkSizes(offsets, k, n);
        long mm = rows(offsets), e = offsets.length - 1;
        checkMatrix("A", "[" + mm + ", " + k + "]", mm * k, aOff, aLen);
        checkMatrix("B", stacked(e, k, n, layout), e * k * n, bOff, bLen);
        checkMatrix("C", "[" + mm + ", " + n + "]", mm * n, cOff, cLen);
    }

    private static void checkBackwardInput(int[] offsets, int k, int n, int dcLen, int dcOff, int bLen, int bOff, Layout layout, int daLen, int daOff) {
        checkSizes(offsets, k, n);
        long mm = rows(offsets), e = offsets.length - 1;
        checkMatrix("dC", "[" + mm + ", " + n + "]", mm * n, dcOff, dcLen);
        checkMatrix("B", stacked(e, k, n, layout), e * k * n, bOff, bLen);
        checkMatrix("dA", "[" + mm + ", " + k + "]", mm * k, daOff, daLen);
    }

    private static void checkBackwardWeight(int[] offsets, int k, int n, int aLen, int aOff, int dcLen, int dcOff, int dbLen, int dbOff, Layout layout) {
        checkSizes(offsets, k, n);
        long mm = rows(offsets), e = offsets.length - 1;
        checkMatrix("A", "[" + mm + ", " + k + "]", mm * k, aOff, aLen);
        checkMatrix("dC", "[" + mm + ", " + n + "]", mm * n, dcOff, dcLen);
        checkMatrix("dB", stacked(e, k, n, layout), e * k * n, dbOff, dbLen);
    }

    private static String stacked(long e, int k, int n, Layout layout) {
        if (layout == null) throw new IllegalArgumentException("layout of B must be KN or NK, got null");
        return layout == Layout.KN ? "[" + e + ", " + k + ", " + n + "]" : "[" + e + ", " + n + ", " + k + "]";
    }
}
