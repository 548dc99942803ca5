package dev.moe4j.kernels.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** {@link BlockTranspose} against the scalar transpose, with strides and offsets on both sides. */
class BlockTransposeTest {
    @Test
    void sixteenBySixteen() {
        assumeTrue(BlockTranspose.SUPPORTED, "needs 16-lane float vectors (AVX-512)");
        int ld = 21, dstLd = 19, s = 3, d = 5;
        float[] src = new float[s + 15 * ld + 16], dst = new float[d + 15 * dstLd + 16 + 4];
        for (int i = 0; i < src.length; i++) src[i] = i + 0.5f;
        java.util.Arrays.fill(dst, -1f);
        float[] want = dst.clone();
        for (int j = 0; j < 16; j++) for (int p = 0; p < 16; p++) want[d + p * dstLd + j] = src[s + j * ld + p];
        BlockTranspose.transpose16x16(src, s, ld, dst, d, dstLd);
        assertThat(dst).containsExactly(want);
    }

    @Test
    void twelveBySixteenLeavesTheLanesPastTwelveAlone() {
        assumeTrue(BlockTranspose.SUPPORTED, "needs 16-lane float vectors (AVX-512)");
        int ld = 40, dstLd = 12, s = 1, d = 2;
        float[] src = new float[s + 11 * ld + 16], dst = new float[d + 15 * dstLd + 12 + 3];
        for (int i = 0; i < src.length; i++) src[i] = -i;
        java.util.Arrays.fill(dst, 7f);
        float[] want = dst.clone();
        for (int i = 0; i < 12; i++) for (int p = 0; p < 16; p++) want[d + p * dstLd + i] = src[s + i * ld + p];
        BlockTranspose.transpose12x16(src, s, ld, dst, d, dstLd);
        assertThat(dst).containsExactly(want);
    }
}
