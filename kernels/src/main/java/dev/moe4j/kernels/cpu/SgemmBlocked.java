package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fast SGEMM, {@code C[m,n] = alpha * A[m,k] * B[k,n] + beta * C}, in the style of Goto's
 * algorithm as refined by BLIS. The operand conventions are those of {@link Gemm}.
 *
 * <h2>Why blocking</h2>
 * A GEMM does {@code 2mnk} flops on {@code mk + kn + mn} numbers, so each number can be reused
 * about {@code min(m,n,k)} times. A core can do 2 vector FMAs per cycle but load only a couple of
 * vectors per cycle from L1, fewer from L2, far fewer from memory. The trick is to arrange the loops
 * so that each level of the memory hierarchy holds a block that is reused many times before it is
 * evicted, and the innermost code works on registers only.
 *
 * <h2>The five loops around the micro-kernel</h2>
 * <pre>
 *  for jc in 0..n step NC:                        B block  [KC, NC]   lives in L3
 *    for pc in 0..k step KC:
 *      pack B[pc:pc+KC, jc:jc+NC] into panels of NR columns          (Bp)
 *      for ic in 0..m step MC:                    A block  [MC, KC]   lives in L2
 *        pack A[ic:ic+MC, pc:pc+KC] into panels of MR rows           (Ap)
 *        for jr in 0..NC step NR:                 B micro-panel [KC, NR] reused from L1/L2
 *          for ir in 0..MC step MR:               A micro-panel [MR, KC] streams from L2
 *            micro-kernel: C[ic+ir : +MR, jc+jr : +NR] += alpha * Ap_ir * Bp_jr
 * </pre>
 *
 * <b>Packing</b> copies a block into the exact order in which the micro-kernel will read it: the A
 * panel as {@code KC} columns of {@code MR} consecutive numbers, the B panel as {@code KC} rows of
 * {@code NR} consecutive numbers. The micro-kernel then walks both with unit stride, never touches
 * the original strides, and edge panels are padded with zeros so it always computes a full tile.
 * Because packing reads through {@code (rowStride, colStride)}, a transposed operand costs nothing
 * extra: only the packing loop order changes to keep its reads sequential.
 *
 * <p><b>The micro-kernel</b> keeps an {@code MR x NR} tile of C in registers: here {@code MR = 12}
 * rows times {@code NR = 2} vectors (2 x 16 floats with AVX-512), i.e. 24 accumulator registers,
 * plus 2 for the B row and 1 for the broadcast A value, 27 of the 32 vector registers. Each step
 * {@code p} of the {@code KC} loop loads one row of the B micro-panel (2 vectors), then for each
 * of the 12 rows broadcasts {@code A[r, p]} and does 2 FMAs: 24 FMAs for 14 loads, enough
 * independent accumulators to cover the FMA latency on both FMA pipes. The tile is added to C once,
 * at the end, scaled by {@code alpha}; with {@code beta = 0} the first KC step stores it instead
 * (C is never read), and any {@code beta} other than 0 or 1 is applied beforehand by one pass over C.
 *
 * <p><b>Block sizes</b> (measured on an AVX-512 Zen core with 48 KiB L1, 1 MiB L2).
 * {@code KC = 512}: C is read and written once per KC step of k, so a deep block halves that
 * traffic compared with 256 and was clearly faster for n >= 1024; the B micro-panel
 * ({@code 512 * 32 * 4 B = 64 KiB}) then lives in L2 next to the A block, and its rows are read
 * sequentially, which the hardware prefetcher keeps ahead of. {@code MC = 120}: the packed A block
 * is 240 KiB. {@code NC = 2048}: the packed B block is 4 MiB, in L3.
 *
 * <p><b>Transposed operands.</b> A row-major A and a column-major B (a {@code W^T} view) are the
 * layouts whose panels are transposes of the source; {@link BlockTranspose} packs them 16 x 16 in
 * registers. The other two layouts pack as plain copies.
 *
 * <p><b>Threads.</b> A large problem ({@link #sharedB}) parallelizes the {@code ic} loop as BLIS
 * does: for each {@code (jc, pc)} step the threads pack the B block together, then take row blocks
 * of A dynamically, each with its own packed A, all against the one shared B. Smaller problems and
 * batches ({@link #batch}, which is how {@link GroupedGemm} runs) are cut by {@link GemmTasks}
 * into independent rectangles of C, each task running the five loops with its own buffers.
 *
 * <p>JIT notes: the micro-kernel is one static method whose accumulators are local
 * {@code FloatVector} variables and which passes no vector to a helper method: a method this large
 * exhausts C2's inlining budget, a helper left as a real call forces its vector arguments to be
 * boxed, and a kernel written that way ran 15 times slower. The index of every load is a linear
 * function of the loop counter, so the bounds checks are hoisted out of the loop.
 */
final class SgemmBlocked {
    private SgemmBlocked() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Lanes per vector (16 with AVX-512). */
    static final int L = S.length();
    /** Rows of the register tile. */
    static final int MR = 12;
    /** Columns of the register tile: two vectors. */
    static final int NR = 2 * L;
    /** Depth of a packed block (the k extent). */
    static final int KC = 512;
    /** Rows of a packed A block (a multiple of MR). */
    static final int MC = 10 * MR;
    /** Columns of a packed B block (a multiple of NR). */
    static final int NC = 2048 / NR * NR;

    /** Per-thread packing buffers, grown on demand and kept between calls. */
    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    /** Packing buffers of one thread. */
    static final class Workspace {
        float[] ap = new float[0];
        float[] bp = new float[0];
        final float[] tile = new float[MR * NR];

        float[] ap(int size) { if (ap.length < size) ap = new float[size]; return ap; }
        float[] bp(int size) { if (bp.length < size) bp = new float[size]; return bp; }
    }

    // ------------------------------------------------------------------ driver

    /** Problems of at least this many multiply-adds ({@code m*n*k}) share one packed B between threads. */
    static final double SHARED_B_MIN = 1 << 27;

    /**
     * Arguments already checked by {@link Gemm}. A large problem on several threads runs
     * {@link #sharedB}; otherwise C is cut into about one rectangle per thread ({@link #batch}).
     */
    static void gemm(int m, int n, int k, float alpha,
                     float[] a, int aOff, int aRs, int aCs,
                     float[] b, int bOff, int bRs, int bCs,
                     float beta, float[] c, int cOff, int ldc) {
        int threads = Parallel.threads();
        if (threads > 1 && (double) m * n * k >= SHARED_B_MIN && m >= 4 * threads * MR && k > 0 && alpha != 0f) {
            sharedB(m, n, k, alpha, a, aOff, aRs, aCs, b, bOff, bRs, bCs, beta, c, cOff, ldc, threads);
            return;
        }
        batch(1, new int[] {m}, new int[] {k}, n, alpha, a, new int[] {aOff}, aRs, aCs,
                b, new int[] {bOff}, bRs, bCs, beta, c, new int[] {cOff}, ldc, 1);
    }

    /**
     * The five loops with the {@code ic} loop spread over the threads, as BLIS does: for each
     * {@code (jc, pc)} step the threads first pack the B block together (one copy, shared), then
     * take row blocks of A (about MC rows) from a common counter, each packing its own A block and running the
     * macro-kernel against the shared B. One packed B instead of one per thread halves the packing
     * work and the L3 footprint, and handing out row blocks dynamically lets a thread that lost its
     * core for a while (other programs) simply take fewer blocks. The row blocks are a multiple of
     * the thread count and differ by at most one MR panel, so the threads finish together.
     */
    static void sharedB(int m, int n, int k, float alpha,
                        float[] a, int aOff, int aRs, int aCs,
                        float[] b, int bOff, int bRs, int bCs,
                        float beta, float[] c, int cOff, int ldc, int threads) {
        int panels = GemmTasks.ceilDiv(m, MR);
        int blocks = Math.min(panels, GemmTasks.roundUp(GemmTasks.ceilDiv(m, MC), threads));
        float[] bp = WORKSPACE.get().bp(Math.min(KC, k) * GemmTasks.roundUp(Math.min(NC, n), NR));
        boolean prescale = beta != 0f && beta != 1f;
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc), ncPanels = GemmTasks.ceilDiv(nc, NR);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc), jc0 = jc, pc0 = pc;
                int packTasks = Math.min(ncPanels, 4 * threads);
                Parallel.forEach(packTasks, t -> {
                    int q0 = ncPanels * t / packTasks, q1 = ncPanels * (t + 1) / packTasks;
                    int j0 = q0 * NR, j1 = Math.min(nc, q1 * NR);
                    packB(b, bOff + pc0 * bRs + (jc0 + j0) * bCs, bRs, bCs, kc, j1 - j0, bp, j0 * kc);
                });
                boolean accumulate = pc > 0 || beta != 0f;
                Parallel.forEach(blocks, t -> {
                    int r0 = MR * (int) ((long) panels * t / blocks);
                    int r1 = Math.min(m, MR * (int) ((long) panels * (t + 1) / blocks));
                    if (r0 >= r1) return;
                    Workspace ws = WORKSPACE.get();
                    if (prescale && pc0 == 0) scale(beta, c, cOff + r0 * ldc + jc0, ldc, r1 - r0, nc);
                    float[] ap = ws.ap(GemmTasks.roundUp(r1 - r0, MR) * kc);
                    packA(a, aOff + r0 * aRs + pc0 * aCs, aRs, aCs, r1 - r0, kc, ap);
                    macroKernel(r1 - r0, nc, kc, alpha, ap, bp, c, cOff + r0 * ldc + jc0, ldc, accumulate, ws.tile);
                });
            }
        }
    }

    /**
     * A batch of independent GEMMs sharing {@code n} and the strides: problem {@code g} is
     * {@code C_g[m[g], n] = alpha * A_g[m[g], k[g]] * B_g[k[g], n] + beta * C_g} with its operands at
     * {@code aOff[g]}, {@code bOff[g]}, {@code cOff[g]}. The problems are cut into tasks by
     * {@link GemmTasks} (about {@code tasksPerThread} per thread) and run over {@link Parallel}.
     */
    static void batch(int count, int[] m, int[] k, int n, float alpha,
                      float[] a, int[] aOff, int aRs, int aCs,
                      float[] b, int[] bOff, int bRs, int bCs,
                      float beta, float[] c, int[] cOff, int ldc, int tasksPerThread) {
        GemmTasks.Plan plan = GemmTasks.plan(count, m, k, n, Parallel.threads(), tasksPerThread, MR, NR);
        Parallel.forEach(plan.size(), t -> {
            int g = plan.problem()[t];
            block(plan.i0()[t], plan.i1()[t], plan.j0()[t], plan.j1()[t], k[g], alpha, a, aOff[g], aRs, aCs,
                    b, bOff[g], bRs, bCs, beta, c, cOff[g], ldc, WORKSPACE.get());
        });
    }

    /**
     * The five loops on the sub-problem {@code C[i0:i1, j0:j1] = alpha * A[i0:i1, :] * B[:, j0:j1]
     * + beta * C[i0:i1, j0:j1]}, on the calling thread.
     */
    static void block(int i0, int i1, int j0, int j1, int k, float alpha,
                      float[] a, int aOff, int aRs, int aCs,
                      float[] b, int bOff, int bRs, int bCs,
                      float beta, float[] c, int cOff, int ldc, Workspace ws) {
        if (i0 >= i1 || j0 >= j1) return;
        if (k == 0 || alpha == 0f) {
            scale(beta, c, cOff + i0 * ldc + j0, ldc, i1 - i0, j1 - j0);
            return;
        }
        // beta = 0: the first KC step overwrites C (never reading it); beta = 1: every step adds;
        // any other beta: C is scaled once here, then every step adds.
        if (beta != 0f && beta != 1f) scale(beta, c, cOff + i0 * ldc + j0, ldc, i1 - i0, j1 - j0);
        float[] ap = ws.ap(MC * Math.min(KC, k));
        float[] bp = ws.bp(Math.min(KC, k) * GemmTasks.roundUp(Math.min(NC, j1 - j0), NR));
        for (int jc = j0; jc < j1; jc += NC) {
            int nc = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                packB(b, bOff + pc * bRs + jc * bCs, bRs, bCs, kc, nc, bp, 0);
                for (int ic = i0; ic < i1; ic += MC) {
                    int mc = Math.min(MC, i1 - ic);
                    packA(a, aOff + ic * aRs + pc * aCs, aRs, aCs, mc, kc, ap);
                    macroKernel(mc, nc, kc, alpha, ap, bp, c, cOff + ic * ldc + jc, ldc, pc > 0 || beta != 0f, ws.tile);
                }
            }
        }
    }

    /** The two loops around the micro-kernel over one packed A block and one packed B block. */
    static void macroKernel(int mc, int nc, int kc, float alpha, float[] ap, float[] bp,
                            float[] c, int cOff, int ldc, boolean accumulate, float[] tile) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                int ci = cOff + ir * ldc + jr;
                if (mr == MR && nr == NR) {
                    microKernel(kc, ap, ir * kc, bp, jr * kc, alpha, c, ci, ldc, accumulate);
                } else {
                    // Edge tile: compute the full padded tile into a buffer, then write its valid part.
                    microKernel(kc, ap, ir * kc, bp, jr * kc, alpha, tile, 0, NR, false);
                    for (int i = 0; i < mr; i++) {
                        int r = ci + i * ldc, t = i * NR;
                        if (accumulate) {
                            for (int j = 0; j < nr; j++) c[r + j] += tile[t + j];
                        } else {
                            System.arraycopy(tile, t, c, r, nr);
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ micro-kernel

    /**
     * {@code C[12, 32] = alpha * Ap[12, kc] * Bp[kc, 32]}, plus the old C when {@code accumulate}.
     * {@code Ap} is an A micro-panel ({@code kc} columns of 12 floats from {@code ai}), {@code Bp} a
     * B micro-panel ({@code kc} rows of 2 vectors from {@code bi}); C rows start at
     * {@code ci + r * ldc}.
     */
    static void microKernel(int kc, float[] ap, int ai, float[] bp, int bi, float alpha,
                            float[] c, int ci, int ldc, boolean accumulate) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        FloatVector c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        FloatVector c80 = z, c81 = z, c90 = z, c91 = z, cA0 = z, cA1 = z, cB0 = z, cB1 = z;
        for (int p = 0; p < kc; p++) {
            int pa = ai + p * MR, pb = bi + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, pb);
            FloatVector b1 = FloatVector.fromArray(S, bp, pb + L);
            FloatVector x;
            x = FloatVector.broadcast(S, ap[pa]);      c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, ap[pa + 1]);  c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, ap[pa + 2]);  c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, ap[pa + 3]);  c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, ap[pa + 4]);  c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, ap[pa + 5]);  c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(S, ap[pa + 6]);  c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(S, ap[pa + 7]);  c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
            x = FloatVector.broadcast(S, ap[pa + 8]);  c80 = x.fma(b0, c80); c81 = x.fma(b1, c81);
            x = FloatVector.broadcast(S, ap[pa + 9]);  c90 = x.fma(b0, c90); c91 = x.fma(b1, c91);
            x = FloatVector.broadcast(S, ap[pa + 10]); cA0 = x.fma(b0, cA0); cA1 = x.fma(b1, cA1);
            x = FloatVector.broadcast(S, ap[pa + 11]); cB0 = x.fma(b0, cB0); cB1 = x.fma(b1, cB1);
        }
        // C = alpha * tile (+ C when accumulating), one row (two vectors) at a time.
        FloatVector al = FloatVector.broadcast(S, alpha);
        int r = ci;
        if (accumulate) {
            c00.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c01.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c10.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c11.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c20.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c21.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c30.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c31.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c40.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c41.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c50.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c51.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c60.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c61.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c70.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c71.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c80.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c81.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c90.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); c91.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            cA0.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); cA1.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            cB0.fma(al, FloatVector.fromArray(S, c, r)).intoArray(c, r); cB1.fma(al, FloatVector.fromArray(S, c, r + L)).intoArray(c, r + L);
        } else {
            c00.mul(al).intoArray(c, r); c01.mul(al).intoArray(c, r + L); r += ldc;
            c10.mul(al).intoArray(c, r); c11.mul(al).intoArray(c, r + L); r += ldc;
            c20.mul(al).intoArray(c, r); c21.mul(al).intoArray(c, r + L); r += ldc;
            c30.mul(al).intoArray(c, r); c31.mul(al).intoArray(c, r + L); r += ldc;
            c40.mul(al).intoArray(c, r); c41.mul(al).intoArray(c, r + L); r += ldc;
            c50.mul(al).intoArray(c, r); c51.mul(al).intoArray(c, r + L); r += ldc;
            c60.mul(al).intoArray(c, r); c61.mul(al).intoArray(c, r + L); r += ldc;
            c70.mul(al).intoArray(c, r); c71.mul(al).intoArray(c, r + L); r += ldc;
            c80.mul(al).intoArray(c, r); c81.mul(al).intoArray(c, r + L); r += ldc;
            c90.mul(al).intoArray(c, r); c91.mul(al).intoArray(c, r + L); r += ldc;
            cA0.mul(al).intoArray(c, r); cA1.mul(al).intoArray(c, r + L); r += ldc;
            cB0.mul(al).intoArray(c, r); cB1.mul(al).intoArray(c, r + L);
        }
    }

    // ------------------------------------------------------------------ packing

    /**
     * Packs the {@code mc x kc} block of A at {@code off} (strides {@code rs, cs}) into panels of
     * {@code MR} rows: {@code ap[ir*kc + p*MR + i] = A[ir + i, p]}, rows past {@code mc} zero.
     */
    static void packA(float[] a, int off, int rs, int cs, int mc, int kc, float[] ap) {
        for (int ir = 0; ir < mc; ir += MR) {
            int mr = Math.min(MR, mc - ir);
            int base = ir * kc;
            int src = off + ir * rs;
            if (cs == 1 && rs != 1) {
                // Row-major A: the panel is the transpose of 12 row pieces. Blocks of 16 columns
                // are transposed in registers; the rest is copied row by row with stride MR.
                int p0 = 0;
                if (mr == MR && BlockTranspose.SUPPORTED) {
                    for (; p0 + 16 <= kc; p0 += 16) BlockTranspose.transpose12x16(a, src + p0, rs, ap, base + p0 * MR, MR);
                }
                for (int i = 0; i < mr; i++) {
                    int s = src + i * rs, d = base + i;
                    for (int p = p0; p < kc; p++) ap[d + p * MR] = a[s + p];
                }
            } else {
                // Column-major A (a transposed view) or general strides: read MR down a column.
                for (int p = 0; p < kc; p++) {
                    int s = src + p * cs, d = base + p * MR;
                    for (int i = 0; i < mr; i++) ap[d + i] = a[s + i * rs];
                }
            }
            if (mr < MR) {
                for (int p = 0; p < kc; p++) {
                    for (int i = mr; i < MR; i++) ap[base + p * MR + i] = 0f;
                }
            }
        }
    }

    /**
     * Packs the {@code kc x nc} block of B at {@code off} (strides {@code rs, cs}) into panels of
     * {@code NR} columns: {@code bp[bpOff + jr*kc + p*NR + j] = B[p, jr + j]}, columns past {@code nc} zero.
     */
    static void packB(float[] b, int off, int rs, int cs, int kc, int nc, float[] bp, int bpOff) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int base = bpOff + jr * kc;
            int src = off + jr * cs;
            if (cs == 1 && nr == NR) {
                // Row-major B: each packed row is a straight copy of NR floats.
                for (int p = 0; p < kc; p++) {
                    int s = src + p * rs, d = base + p * NR;
                    FloatVector.fromArray(S, b, s).intoArray(bp, d);
                    FloatVector.fromArray(S, b, s + L).intoArray(bp, d + L);
                }
                continue;
            }
            if (rs == 1 && cs != 1) {
                // Column-major B (a transposed view such as W^T): 16 x 16 blocks are transposed in
                // registers, the rest is read one column at a time and written with stride NR.
                int p0 = 0;
                if (nr == NR && NR == 32 && BlockTranspose.SUPPORTED) {
                    for (; p0 + 16 <= kc; p0 += 16) {
                        BlockTranspose.transpose16x16(b, src + p0, cs, bp, base + p0 * NR, NR);
                        BlockTranspose.transpose16x16(b, src + 16 * cs + p0, cs, bp, base + p0 * NR + 16, NR);
                    }
                }
                for (int j = 0; j < nr; j++) {
                    int s = src + j * cs, d = base + j;
                    for (int p = p0; p < kc; p++) bp[d + p * NR] = b[s + p];
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    int s = src + p * rs, d = base + p * NR;
                    for (int j = 0; j < nr; j++) bp[d + j] = b[s + j * cs];
                }
            }
            if (nr < NR) {
                for (int p = 0; p < kc; p++) {
                    for (int j = nr; j < NR; j++) bp[base + p * NR + j] = 0f;
                }
            }
        }
    }

    /** {@code C[rows, cols] *= beta} (row stride {@code ldc}); {@code beta == 0} writes zeros without reading. */
    static void scale(float beta, float[] c, int off, int ldc, int rows, int cols) {
        if (beta == 1f) return;
        for (int i = 0; i < rows; i++) {
            int r = off + i * ldc;
            if (beta == 0f) {
                java.util.Arrays.fill(c, r, r + cols, 0f);
            } else {
                for (int j = 0; j < cols; j++) c[r + j] *= beta;
            }
        }
    }

}
