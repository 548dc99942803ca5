package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Array;
import java.util.Objects;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class ConcatKernelsTest {
    @Test
    void fastMatchesReferenceAndDefinition() {
        SplittableRandom rnd = new SplittableRandom(31);
        for (Class<?> type : GatherKernelsTest.TYPES) {
            for (int outer : new int[] {0, 1, 3}) for (int inner : new int[] {0, 1, 5, 17}) for (int parts : new int[] {1, 2, 4}) {
                Object[] arrays = new Object[parts];
                int[] offsets = new int[parts], sizes = new int[parts];
                int total = 0;
                for (int t = 0; t < parts; t++) {
                    sizes[t] = rnd.nextInt(4);                      // includes empty parts
                    offsets[t] = rnd.nextInt(3);
                    arrays[t] = GatherKernelsTest.randomArray(type, offsets[t] + outer * sizes[t] * inner, rnd);
                    total += sizes[t];
                }
                Object ref = Array.newInstance(type, outer * total * inner), fast = Array.newInstance(type, outer * total * inner);
                ConcatKernels.catReference(arrays, offsets, sizes, outer, inner, ref);
                ConcatKernels.cat(arrays, offsets, sizes, outer, inner, fast);
                assertThat(Objects.deepEquals(ref, fast)).isTrue();
                Object expected = Array.newInstance(type, outer * total * inner);
                for (int o = 0; o < outer; o++) {
                    int start = 0;
                    for (int t = 0; t < parts; t++) {
                        for (int j = 0; j < sizes[t]; j++) for (int i = 0; i < inner; i++) {
                            Array.set(expected, (o * total + start + j) * inner + i, Array.get(arrays[t], offsets[t] + (o * sizes[t] + j) * inner + i));
                        }
                        start += sizes[t];
                    }
                }
                assertThat(Objects.deepEquals(expected, fast)).isTrue();
            }
        }
    }
}
