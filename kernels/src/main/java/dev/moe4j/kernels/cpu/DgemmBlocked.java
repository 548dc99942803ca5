package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fast DGEMM, {@code C[m,n] = alpha * A[m,k] * B[k,n] + beta * C}: the double-precision twin of
 * {@link SgemmBlocked}, whose header explains the algorithm (Goto/BLIS blocking, packing, the
 * register-tiled micro-kernel, threading). Here a vector holds 8 doubles with AVX-512, so the
 * {@code 12 x 2}-vector register tile is {@code 12 x 16} doubles; the block sizes are the same in
 * elements, so the packed A block is 480 KiB (inside a 1 MiB L2) and the B micro-panel
 * {@code 512 * 16 * 8 B = 64 KiB}. Threads always split C into rectangles ({@link #batch}); the
 * shared-B variant of SGEMM and the in-register transposes of the packing are float-only, since
 * DGEMM serves references and gradient checks rather than hot paths.
 */
final class DgemmBlocked {
    private DgemmBlocked() {}

    static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    /** Lanes per vector (8 with AVX-512). */
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
        double[] ap = new double[0];
        double[] bp = new double[0];
        final double[] tile = new double[MR * NR];

        double[] ap(int size) { if (ap.length < size) ap = new double[size]; return ap; }
        double[] bp(int size) { if (bp.length < size) bp = new double[size]; return bp; }
    }

    // ------------------------------------------------------------------ driver

    /** Arguments already checked by {@link Gemm}: one problem, cut into about one task per thread. */
    static void gemm(int m, int n, int k, double alpha,
                     double[] a, int aOff, int aRs, int aCs,
                     double[] b, int bOff, int bRs, int bCs,
                     double beta, double[] c, int cOff, int ldc) {
        batch(1, new int[] {m}, new int[] {k}, n, alpha, a, new int[] {aOff}, aRs, aCs,
                b, new int[] {bOff}, bRs, bCs, beta, c, new int[] {cOff}, ldc, 1);
    }

    /**
     * A batch of independent GEMMs sharing {@code n} and the strides: problem {@code g} is
     * {@code C_g[m[g], n] = alpha * A_g[m[g], k[g]] * B_g[k[g], n] + beta * C_g} with its operands at
     * {@code aOff[g]}, {@code bOff[g]}, {@code cOff[g]}. The problems are cut into tasks by
     * {@link GemmTasks} (about {@code tasksPerThread} per thread) and run over {@link Parallel}.
     */
    static void batch(int count, int[] m, int[] k, int n, double alpha,
                      double[] a, int[] aOff, int aRs, int aCs,
                      double[] b, int[] bOff, int bRs, int bCs,
                      double beta, double[] c, int[] cOff, int ldc, int tasksPerThread) {
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
    static void block(int i0, int i1, int j0, int j1, int k, double alpha,
                      double[] a, int aOff, int aRs, int aCs,
                      double[] b, int bOff, int bRs, int bCs,
                      double beta, double[] c, int cOff, int ldc, Workspace ws) {
        if (i0 >= i1 || j0 >= j1) return;
        if (k == 0 || alpha == 0.0) {
            scale(beta, c, cOff + i0 * ldc + j0, ldc, i1 - i0, j1 - j0);
            return;
        }
        // beta = 0: the first KC step overwrites C (never reading it); beta = 1: every step adds;
        // any other beta: C is scaled once here, then every step adds.
        if (beta != 0.0 && beta != 1.0) scale(beta, c, cOff + i0 * ldc + j0, ldc, i1 - i0, j1 - j0);
        double[] ap = ws.ap(MC * Math.min(KC, k));
        double[] bp = ws.bp(Math.min(KC, k) * GemmTasks.roundUp(Math.min(NC, j1 - j0), NR));
        for (int jc = j0; jc < j1; jc += NC) {
            int nc = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                packB(b, bOff + pc * bRs + jc * bCs, bRs, bCs, kc, nc, bp);
                for (int ic = i0; ic < i1; ic += MC) {
                    int mc = Math.min(MC, i1 - ic);
                    packA(a, aOff + ic * aRs + pc * aCs, aRs, aCs, mc, kc, ap);
                    macroKernel(mc, nc, kc, alpha, ap, bp, c, cOff + ic * ldc + jc, ldc, pc > 0 || beta != 0.0, ws.tile);
                }
            }
        }
    }

    /** The two loops around the micro-kernel over one packed A block and one packed B block. */
    static void macroKernel(int mc, int nc, int kc, double alpha, double[] ap, double[] bp,
                            double[] c, int cOff, int ldc, boolean accumulate, double[] tile) {
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
     * {@code C[12, 16] = alpha * Ap[12, kc] * Bp[kc, 16]}, plus the old C when {@code accumulate}.
     * {@code Ap} is an A micro-panel ({@code kc} columns of 12 doubles from {@code ai}), {@code Bp} a
     * B micro-panel ({@code kc} rows of 2 vectors from {@code bi}); C rows start at
     * {@code ci + r * ldc}.
     */
    static void microKernel(int kc, double[] ap, int ai, double[] bp, int bi, double alpha,
                            double[] c, int ci, int ldc, boolean accumulate) {
        DoubleVector z = DoubleVector.zero(S);
        DoubleVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        DoubleVector c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        DoubleVector c80 = z, c81 = z, c90 = z, c91 = z, cA0 = z, cA1 = z, cB0 = z, cB1 = z;
        for (int p = 0; p < kc; p++) {
            int pa = ai + p * MR, pb = bi + p * NR;
            DoubleVector b0 = DoubleVector.fromArray(S, bp, pb);
            DoubleVector b1 = DoubleVector.fromArray(S, bp, pb + L);
            DoubleVector x;
            x = DoubleVector.broadcast(S, ap[pa]);      c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = DoubleVector.broadcast(S, ap[pa + 1]);  c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = DoubleVector.broadcast(S, ap[pa + 2]);  c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = DoubleVector.broadcast(S, ap[pa + 3]);  c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = DoubleVector.broadcast(S, ap[pa + 4]);  c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = DoubleVector.broadcast(S, ap[pa + 5]);  c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = DoubleVector.broadcast(S, ap[pa + 6]);  c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = DoubleVector.broadcast(S, ap[pa + 7]);  c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
            x = DoubleVector.broadcast(S, ap[pa + 8]);  c80 = x.fma(b0, c80); c81 = x.fma(b1, c81);
            x = DoubleVector.broadcast(S, ap[pa + 9]);  c90 = x.fma(b0, c90); c91 = x.fma(b1, c91);
            x = DoubleVector.broadcast(S, ap[pa + 10]); cA0 = x.fma(b0, cA0); cA1 = x.fma(b1, cA1);
            x = DoubleVector.broadcast(S, ap[pa + 11]); cB0 = x.fma(b0, cB0); cB1 = x.fma(b1, cB1);
        }
        // C = alpha * tile (+ C when accumulating), one row (two vectors) at a time.
        DoubleVector al = DoubleVector.broadcast(S, alpha);
        int r = ci;
        if (accumulate) {
            c00.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c01.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c10.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c11.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c20.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c21.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c30.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c31.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c40.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c41.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c50.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c51.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c60.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c61.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c70.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c71.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c80.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c81.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            c90.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); c91.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            cA0.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); cA1.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L); r += ldc;
            cB0.fma(al, DoubleVector.fromArray(S, c, r)).intoArray(c, r); cB1.fma(al, DoubleVector.fromArray(S, c, r + L)).intoArray(c, r + L);
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
    static void packA(double[] a, int off, int rs, int cs, int mc, int kc, double[] ap) {
        for (int ir = 0; ir < mc; ir += MR) {
            int mr = Math.min(MR, mc - ir);
            int base = ir * kc;
            int src = off + ir * rs;
            if (cs == 1 && rs != 1) {
                // Row-major A: read each row sequentially, write with stride MR.
                for (int i = 0; i < mr; i++) {
                    int s = src + i * rs, d = base + i;
                    for (int p = 0; p < kc; p++) ap[d + p * MR] = a[s + p];
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
                    for (int i = mr; i < MR; i++) ap[base + p * MR + i] = 0.0;
                }
            }
        }
    }

    /**
     * Packs the {@code kc x nc} block of B at {@code off} (strides {@code rs, cs}) into panels of
     * {@code NR} columns: {@code bp[jr*kc + p*NR + j] = B[p, jr + j]}, columns past {@code nc} zero.
     */
    static void packB(double[] b, int off, int rs, int cs, int kc, int nc, double[] bp) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int base = jr * kc;
            int src = off + jr * cs;
            if (cs == 1 && nr == NR) {
                // Row-major B: each packed row is a straight copy of NR doubles.
                for (int p = 0; p < kc; p++) {
                    int s = src + p * rs, d = base + p * NR;
                    DoubleVector.fromArray(S, b, s).intoArray(bp, d);
                    DoubleVector.fromArray(S, b, s + L).intoArray(bp, d + L);
                }
                continue;
            }
            if (rs == 1 && cs != 1) {
                // Column-major B (a transposed view): read each column sequentially.
                for (int j = 0; j < nr; j++) {
                    int s = src + j * cs, d = base + j;
                    for (int p = 0; p < kc; p++) bp[d + p * NR] = b[s + p];
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    int s = src + p * rs, d = base + p * NR;
                    for (int j = 0; j < nr; j++) bp[d + j] = b[s + j * cs];
                }
            }
            if (nr < NR) {
                for (int p = 0; p < kc; p++) {
                    for (int j = nr; j < NR; j++) bp[base + p * NR + j] = 0.0;
                }
            }
        }
    }

    /** {@code C[rows, cols] *= beta} (row stride {@code ldc}); {@code beta == 0} writes zeros without reading. */
    static void scale(double beta, double[] c, int off, int ldc, int rows, int cols) {
        if (beta == 1.0) return;
        for (int i = 0; i < rows; i++) {
            int r = off + i * ldc;
            if (beta == 0.0) {
                java.util.Arrays.fill(c, r, r + cols, 0.0);
            } else {
                for (int j = 0; j < cols; j++) c[r + j] *= beta;
            }
        }
    }

}
