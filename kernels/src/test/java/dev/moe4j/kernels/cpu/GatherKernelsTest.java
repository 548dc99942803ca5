package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Array;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GatherKernelsTest {
    static final List<Class<?>> TYPES = List.of(float.class, double.class, int.class, long.class, short.class, byte.class);
    private static final int[] OUTER = {0, 1, 3};
    private static final int[] N = {0, 1, 5};
    private static final int[] INNER = {1, 2, 7, 17, 33};
    private static final int[] M = {0, 1, 4, 19, 40};

    /** A random array of {@code type} with {@code len} elements, distinct-ish values. */
    static Object randomArray(Class<?> type, int len, SplittableRandom rnd) {
        Object a = Array.newInstance(type, len);
        for (int i = 0; i < len; i++) {
            long v = rnd.nextLong();
            if (type == float.class) Array.setFloat(a, i, (float) rnd.nextGaussian());
            else if (type == double.class) Array.setDouble(a, i, rnd.nextGaussian());
            else if (type == int.class) Array.setInt(a, i, (int) v);
            else if (type == long.class) Array.setLong(a, i, v);
            else if (type == short.class) Array.setShort(a, i, (short) v);
            else Array.setByte(a, i, (byte) v);
        }
        return a;
    }

    @Test
    void indexSelectFastMatchesReferenceAndDefinition() {
        SplittableRandom rnd = new SplittableRandom(21);
        for (Class<?> type : TYPES) {
            for (int outer : OUTER) for (int n : N) for (int inner : INNER) for (int m : M) {
                if (n == 0 && m > 0) continue;
                int off = rnd.nextInt(4);
                Object src = randomArray(type, off + outer * n * inner, rnd);
                int[] index = new int[m];
                for (int j = 0; j < m; j++) index[j] = rnd.nextInt(n);
                Object ref = Array.newInstance(type, outer * m * inner), fast = Array.newInstance(type, outer * m * inner);
                GatherKernels.indexSelectReference(src, off, outer, n, inner, index, ref);
                GatherKernels.indexSelect(src, off, outer, n, inner, index, fast);
                String what = type + " outer=" + outer + " n=" + n + " inner=" + inner + " m=" + m;
                assertThat(Objects.deepEquals(ref, fast)).as(what).isTrue();
                Object expected = Array.newInstance(type, outer * m * inner);
                for (int o = 0; o < outer; o++) for (int j = 0; j < m; j++) for (int i = 0; i < inner; i++) {
                    Array.set(expected, (o * m + j) * inner + i, Array.get(src, off + (o * n + index[j]) * inner + i));
                }
                assertThat(Objects.deepEquals(expected, fast)).as(what).isTrue();
            }
        }
    }

    @Test
    void gatherFastMatchesReferenceAndDefinition() {
        SplittableRandom rnd = new SplittableRandom(22);
        for (Class<?> type : TYPES) {
            for (int outer : OUTER) for (int n : N) for (int inner : INNER) for (int m : M) {
                if (n == 0 && m > 0) continue;
                int off = rnd.nextInt(4);
                Object src = randomArray(type, off + outer * n * inner, rnd);
                int[] index = new int[outer * m * inner];
                for (int e = 0; e < index.length; e++) index[e] = rnd.nextInt(n);
                Object ref = Array.newInstance(type, index.length), fast = Array.newInstance(type, index.length);
                GatherKernels.gatherReference(src, off, outer, n, inner, index, m, ref);
                GatherKernels.gather(src, off, outer, n, inner, index, m, fast);
                String what = type + " outer=" + outer + " n=" + n + " inner=" + inner + " m=" + m;
                assertThat(Objects.deepEquals(ref, fast)).as(what).isTrue();
                Object expected = Array.newInstance(type, index.length);
                for (int o = 0; o < outer; o++) for (int j = 0; j < m; j++) for (int i = 0; i < inner; i++) {
                    int e = (o * m + j) * inner + i;
                    Array.set(expected, e, Array.get(src, off + (o * n + index[e]) * inner + i));
                }
                assertThat(Objects.deepEquals(expected, fast)).as(what).isTrue();
            }
        }
    }

    @Test
    void rejectsMixedArrayTypes() {
        assertThatThrownBy(() -> GatherKernels.indexSelect(new float[4], 0, 1, 4, 1, new int[] {0}, new double[1]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("float[]").hasMessageContaining("double[]");
    }
}
