package dev.moe4j.kernels.cpu;

/**
 * Concatenation along one dim (and stacking, which is concatenation along a new dim of size 1).
 *
 * <p>Shapes: part t is [outer, n_t, inner], contiguous from {@code offsets[t]} in
 * {@code parts[t]}; {@code dst} is [outer, N, inner] from 0 with N = n_0 + ... + n_{T-1}, and
 * {@code dst[o, s_t + j, i] = part_t[o, j, i]} where s_t = n_0 + ... + n_{t-1}. All arrays have one
 * primitive type.
 *
 * <p>Algorithms. The reference copies one element at a time. The fast version notices that, for a
 * fixed o, part t's block [n_t, inner] is contiguous both in the part and in {@code dst}, and moves
 * it with one {@link System#arraycopy}: outer * T copies in all.
 */
public final class ConcatKernels {
    private ConcatKernels() {}

    /** Reference concatenation: parts [outer, n_t, inner] &rarr; dst [outer, sum n_t, inner], element by element. */
    public static void catReference(Object[] parts, int[] offsets, int[] sizes, int outer, int inner, Object dst) {
        check(parts, offsets, sizes, dst);
        int total = total(sizes);
        for (int o = 0; o < outer; o++) {
            int start = 0;
            for (int t = 0; t < parts.length; t++) {
                for (int j = 0; j < sizes[t]; j++) {
                    for (int i = 0; i < inner; i++) {
                        System.arraycopy(parts[t], offsets[t] + (o * sizes[t] + j) * inner + i, dst, (o * total + start + j) * inner + i, 1);
                    }
                }
                start += sizes[t];
            }
        }
    }

    /** Concatenation (same contract as the reference), one block copy per (o, t). */
    public static void cat(Object[] parts, int[] offsets, int[] sizes, int outer, int inner, Object dst) {
        check(parts, offsets, sizes, dst);
        int total = total(sizes);
        for (int o = 0; o < outer; o++) {
            int start = 0;
            for (int t = 0; t < parts.length; t++) {
                int block = sizes[t] * inner;
                System.arraycopy(parts[t], offsets[t] + o * block, dst, (o * total + start) * inner, block);
                start += sizes[t];
            }
        }
    }

    private static int total(int[] sizes) {
        int n = 0;
        for (int s : sizes) n += s;
        return n;
    }

    private static void check(Object[] parts, int[] offsets, int[] sizes, Object dst) {
        if (parts.length != offsets.length || parts.length != sizes.length) {
            throw new IllegalArgumentException(parts.length + " parts but " + offsets.length + " offsets and " + sizes.length + " sizes");
        }
        for (Object p : parts) {
            if (p.getClass() != dst.getClass()) {
                throw new IllegalArgumentException("array types differ: " + p.getClass().getSimpleName() + " vs " + dst.getClass().getSimpleName());
            }
        }
    }
}
