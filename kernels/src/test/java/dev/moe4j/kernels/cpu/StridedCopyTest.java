package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StridedCopyTest {

    @Test
    void copiesATransposedView() {
        float[] src = new float[12];
        for (int i = 0; i < 12; i++) src[i] = i;           // [3, 4] row-major
        float[] dst = new float[12];
        StridedCopy.copy(src, 0, new int[] {4, 3}, new int[] {1, 4}, dst, 0);   // its transpose
        for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++) assertThat(dst[i * 3 + j]).isEqualTo(src[j * 4 + i]);
    }

    @Test
    void copiesOddRankThreeViewsOfEveryArrayType() {
        int[] shape = {3, 5, 7};
        int[] strides = {1, 3 * 2, 3 * 2 * 5};              // fully reversed layout with a gap of 2 on dim 1
        int n = 3 * 2 * 5 * 7 + 5;
        Object[] srcs = {new float[n], new double[n], new int[n], new long[n], new short[n], new byte[n]};
        for (Object s : srcs) {
            for (int i = 0; i < n; i++) java.lang.reflect.Array.set(s, i, castTo(s, i % 120));
            Object d = java.lang.reflect.Array.newInstance(s.getClass().getComponentType(), 3 * 5 * 7 + 2);
            StridedCopy.copy(s, 2, shape, strides, d, 2);
            int k = 2;
            for (int a = 0; a < 3; a++) for (int b = 0; b < 5; b++) for (int c = 0; c < 7; c++) {
                Object want = java.lang.reflect.Array.get(s, 2 + a * strides[0] + b * strides[1] + c * strides[2]);
                assertThat(java.lang.reflect.Array.get(d, k++)).isEqualTo(want);
            }
        }
    }

    private static Object castTo(Object arr, int v) {
        return switch (arr) {
            case float[] f -> (float) v;
            case double[] f -> (double) v;
            case int[] f -> v;
            case long[] f -> (long) v;
            case short[] f -> (short) v;
            default -> (byte) v;
        };
    }

    @Test
    void emptyAndScalarShapes() {
        float[] src = {7f};
        float[] dst = {0f};
        StridedCopy.copy(src, 0, new int[0], new int[0], dst, 0);
        assertThat(dst[0]).isEqualTo(7f);
        StridedCopy.copy(src, 0, new int[] {0, 3}, new int[] {3, 1}, dst, 0);   // nothing to do
    }

    @Test
    void rejectsMismatchedArrays() {
        assertThatThrownBy(() -> StridedCopy.copy(new float[2], 0, new int[] {2}, new int[] {1}, new double[2], 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("float[]");
    }
}
