package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class ScatterKernelsTest {
    private static final int[] OUTER = {0, 1, 3};
    private static final int[] N = {1, 2, 6};
    private static final int[] INNER = {1, 3, 16, 17, 35};
    private static final int[] M = {0, 1, 5, 12};

    private static float[] gaussians(SplittableRandom rnd, int len) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    @Test
    void scatterAddSumsEveryElementInOrder() {
        SplittableRandom rnd = new SplittableRandom(41);
        for (int outer : OUTER) for (int n : N) for (int inner : INNER) for (int m : M) {
            int size = outer * m * inner;
            int[] index = new int[size];
            for (int e = 0; e < size; e++) index[e] = rnd.nextInt(n);          // n small: many repeats
            float[] src = gaussians(rnd, size + 2);
            float[] dst = gaussians(rnd, outer * n * inner + 1);
            float[] expected = dst.clone();
            double[] dsrc = new double[src.length], ddst = new double[dst.length];
            long[] lsrc = new long[src.length], ldst = new long[dst.length];
            for (int i = 0; i < src.length; i++) { dsrc[i] = src[i]; lsrc[i] = (long) (src[i] * 1000); }
            for (int i = 0; i < dst.length; i++) { ddst[i] = dst[i]; ldst[i] = (long) (dst[i] * 1000); }
            double[] dexp = ddst.clone();
            long[] lexp = ldst.clone();
            for (int e = 0; e < size; e++) {                                   // decode (o, j, i) from the flat position
                int o = e / (m * inner), i = e % inner;
                int target = 1 + (o * n + index[e]) * inner + i;
                expected[target] += src[2 + e];
                dexp[target] += dsrc[2 + e];
                lexp[target] += lsrc[2 + e];
            }
            ScatterKernels.scatterAdd(dst, 1, outer, n, inner, index, m, src, 2);
            ScatterKernels.scatterAdd(ddst, 1, outer, n, inner, index, m, dsrc, 2);
            ScatterKernels.scatterAdd(ldst, 1, outer, n, inner, index, m, lsrc, 2);
            String what = "outer=" + outer + " n=" + n + " inner=" + inner + " m=" + m;
            assertThat(dst).as(what).isEqualTo(expected);
            assertThat(ddst).as(what).isEqualTo(dexp);
            assertThat(ldst).as(what).isEqualTo(lexp);
        }
    }

    @Test
    void indexAddFastMatchesReferenceAndDefinition() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int outer : OUTER) for (int n : N) for (int inner : INNER) for (int m : M) {
            int[] index = new int[m];
            for (int j = 0; j < m; j++) index[j] = rnd.nextInt(n);
            float[] src = gaussians(rnd, outer * m * inner + 3);
            float[] dst = gaussians(rnd, outer * n * inner);
            float[] ref = dst.clone(), fast = dst.clone(), expected = dst.clone();
            double[] dsrc = new double[src.length], dref = new double[dst.length];
            long[] lsrc = new long[src.length], lref = new long[dst.length];
            for (int i = 0; i < src.length; i++) { dsrc[i] = src[i]; lsrc[i] = (long) (src[i] * 1000); }
            for (int i = 0; i < dst.length; i++) { dref[i] = dst[i]; lref[i] = (long) (dst[i] * 1000); }
            double[] dfast = dref.clone();
            long[] lfast = lref.clone();
            for (int e = 0; e < outer * m * inner; e++) {
                int o = e / (m * inner), j = (e / inner) % m, i = e % inner;
                expected[(o * n + index[j]) * inner + i] += src[3 + e];
            }
            ScatterKernels.indexAddReference(ref, 0, outer, n, inner, index, src, 3);
            ScatterKernels.indexAdd(fast, 0, outer, n, inner, index, src, 3);
            ScatterKernels.indexAddReference(dref, 0, outer, n, inner, index, dsrc, 3);
            ScatterKernels.indexAdd(dfast, 0, outer, n, inner, index, dsrc, 3);
            ScatterKernels.indexAddReference(lref, 0, outer, n, inner, index, lsrc, 3);
            ScatterKernels.indexAdd(lfast, 0, outer, n, inner, index, lsrc, 3);
            String what = "outer=" + outer + " n=" + n + " inner=" + inner + " m=" + m;
            assertThat(ref).as(what).isEqualTo(expected);
            assertThat(fast).as(what).isEqualTo(ref);
            assertThat(dfast).as(what).isEqualTo(dref);
            assertThat(lfast).as(what).isEqualTo(lref);
        }
    }
}
