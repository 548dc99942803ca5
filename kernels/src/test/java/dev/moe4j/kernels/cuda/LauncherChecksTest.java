package dev.moe4j.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.moe4j.kernels.cpu.GroupedGemm.Layout;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;

import org.junit.jupiter.api.Test;

/**
 * Argument checks of the launchers, which run on the host before anything reaches a device. The
 * buffers are host-side stand-ins of a given size (no device memory behind them), enough for checks
 * that only read sizes and alignment.
 */
class LauncherChecksTest {

    static DeviceBuffer bytes(long n) {
        return new DeviceBuffer(null, null, null, 0, n);
    }

    @Test
    void gatingNamesTheShortBuffer() {
        GatingConfig c = GatingConfig.mixtral(2);
        DeviceBuffer ok = bytes(1 << 20);
        assertThat(CudaGating.checkForward(c, 10, 8, ok, null, null, ok, ok, ok, KernelVersion.AUTO)).isEqualTo(3);
        assertThatThrownBy(() -> CudaGating.checkForward(c, 10, 8, bytes(4 * 79), null, null, ok, ok, ok, KernelVersion.AUTO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("logits").hasMessageContaining("[T, E] = [10, 8]")
                .hasMessageContaining("320");
        assertThatThrownBy(() -> CudaGating.checkForward(c, 10, 8, ok, null, null, ok, bytes(4 * 19), ok, KernelVersion.AUTO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ids").hasMessageContaining("[T, k] = [10, 2]");
        assertThatThrownBy(() -> CudaGating.checkForward(c, 10, 8, ok, bytes(4), null, ok, ok, ok, KernelVersion.AUTO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias");
        assertThatThrownBy(() -> CudaGating.checkForward(GatingConfig.mixtral(9), 10, 8, ok, null, null, ok, ok, ok, KernelVersion.AUTO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k = 9");
        assertThatThrownBy(() -> CudaGating.checkForward(c, -1, 8, ok, null, null, ok, ok, ok, KernelVersion.AUTO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
    }

    @Test
    void gatingVersionChoice() {
        DeviceBuffer ok = bytes(64 << 20);
        assertThat(CudaGating.checkForward(GatingConfig.mixtral(2), 4, 600, ok, null, null, ok, ok, ok, KernelVersion.AUTO)).isEqualTo(1);
        assertThat(CudaGating.checkForward(GatingConfig.deepseekV3(8, 8, 4, true, 2.5f), 4, 256, ok, ok, ok, ok, ok, ok, KernelVersion.AUTO)).isEqualTo(3);
        assertThat(CudaGating.checkForward(GatingConfig.mixtral(2), 4, 64, ok, null, null, ok, ok, ok, KernelVersion.V1)).isEqualTo(1);
        assertThat(CudaGating.checkForward(GatingConfig.mixtral(2), 4, 64, ok, null, null, ok, ok, ok, KernelVersion.V2)).isEqualTo(2);
        assertThat(CudaGating.checkForward(GatingConfig.mixtral(2), 4, 64, ok, null, null, ok, ok, ok, KernelVersion.V3)).isEqualTo(3);
        assertThatThrownBy(() -> CudaGating.checkForward(GatingConfig.mixtral(2), 4, 600, ok, null, null, ok, ok, ok, KernelVersion.V2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E = 600");
        assertThatThrownBy(() -> CudaGating.checkForward(GatingConfig.mixtral(2), 4, 600, ok, null, null, ok, ok, ok, KernelVersion.V3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("v3").hasMessageContaining("E = 600");
        assertThatThrownBy(() -> CudaGating.checkBackward(GatingConfig.mixtral(2), 4, 64, ok, ok, ok, ok, KernelVersion.V3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not 3");
        assertThat(CudaGating.checkBackward(GatingConfig.mixtral(2), 4, 64, ok, ok, ok, ok, KernelVersion.AUTO)).isEqualTo(2);
    }

    @Test
    void routingPlanChecks() {
        assertThatThrownBy(() -> CudaRouting.checkPlan(bytes(4 * 5), 3, 2, 8, -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ids").hasMessageContaining("[T, k] = [3, 2]");
        assertThatThrownBy(() -> CudaRouting.checkPlan(bytes(1024), 3, 2, 8, -2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("capacity");
        assertThatThrownBy(() -> CudaRouting.checkPlan(bytes(1024), 3, 0, 8, -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k = 0");
        assertThatThrownBy(() -> CudaRouting.checkPlan(bytes(1 << 20), 1, 1, 20000, -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E = 20000");
        CudaRouting.checkPlan(bytes(24), 3, 2, 8, 0);
        // drop by score needs weights [T, k] under a capacity, and a policy
        assertThatThrownBy(() -> CudaRouting.checkPlan(bytes(24), null, 3, 2, 8, 1, DropPolicy.BY_SCORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BY_SCORE").hasMessageContaining("weights");
        assertThatThrownBy(() -> CudaRouting.checkPlan(bytes(24), bytes(20), 3, 2, 8, 1, DropPolicy.BY_SCORE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weights").hasMessageContaining("[T, k] = [3, 2]");
        assertThatThrownBy(() -> CudaRouting.checkPlan(bytes(24), bytes(24), 3, 2, 8, 1, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("policy");
        assertThat(CudaRouting.checkPlan(bytes(24), bytes(24), 3, 2, 8, 1, DropPolicy.BY_SCORE)).isTrue();
        assertThat(CudaRouting.checkPlan(bytes(24), null, 3, 2, 8, RoutingPlan.UNLIMITED, DropPolicy.BY_SCORE)).isFalse();
        assertThat(CudaRouting.checkPlan(bytes(24), null, 3, 2, 8, 1, DropPolicy.BY_POSITION)).isFalse();
    }

    @Test
    void rowKernelChecksNameShapes() {
        DeviceBuffer ints = bytes(1 << 16);
        DeviceRoutingPlan plan = new DeviceRoutingPlan(5, 2, 4, -1, 10, ints, ints, ints, ints, ints, null);
        CudaRouting.checkRows(plan, CudaDType.BF16, 16, "x", bytes(5 * 16 * 2), true, "xPerm", bytes(10 * 16 * 2), false);
        assertThatThrownBy(() -> CudaRouting.checkRows(plan, CudaDType.F32, 16, "x", bytes(5 * 16 * 2), true, "xPerm", bytes(10 * 64), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x [T, d] = [5, 16]");
        assertThatThrownBy(() -> CudaRouting.checkRows(plan, CudaDType.F32, 16, "x", bytes(5 * 64), true, "xPerm", bytes(9 * 64), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("xPerm [R, d] = [10, 16]");
        assertThatThrownBy(() -> CudaRouting.checkRows(plan, CudaDType.F32, -1, "x", ints, true, "xPerm", ints, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("d must be >= 0");
        assertThat(CudaRouting.pick(KernelVersion.AUTO, false, "")).isEqualTo(1);
        assertThat(CudaRouting.pick(KernelVersion.AUTO, true, "")).isEqualTo(2);
        assertThatThrownBy(() -> CudaRouting.pick(KernelVersion.V2, false, "needs alignment"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs alignment");
    }

    @Test
    void groupedGemmChecksAndVersions() {
        DeviceBuffer big = bytes(1 << 24);
        assertThatThrownBy(() -> CudaGroupedGemm.check(CudaDType.F32, bytes(4 * 4), 4, 10, 8, 8, Layout.KN))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("offsets [E + 1] = [5]");
        assertThatThrownBy(() -> CudaGroupedGemm.check(CudaDType.F32, big, 0, 10, 8, 8, Layout.KN))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E >= 1");
        assertThatThrownBy(() -> CudaGroupedGemm.check(CudaDType.F32, big, 2, 10, 8, 8, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("layout");
        assertThatThrownBy(() -> CudaGroupedGemm.forward(CudaDType.BF16, big, 2, 10, 8, 16, 1f, bytes(10 * 8 * 2 - 1), big, Layout.NK, 0f, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A [M, K] = [10, 8]");
        assertThatThrownBy(() -> CudaGroupedGemm.backwardWeight(CudaDType.F32, big, 3, 10, 8, 16, 1f, big, big, 0f, bytes(4 * 3 * 8 * 16 - 4), Layout.NK))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dB [E, N, K] = [3, 16, 8]");

        assertThat(CudaGroupedGemm.pickVersion(CudaDType.F32, KernelVersion.AUTO, 7, 9, 8, big)).isEqualTo(2);
        assertThat(CudaGroupedGemm.pickVersion(CudaDType.BF16, KernelVersion.AUTO, 64, 128, 8, big)).isEqualTo(3);
        assertThat(CudaGroupedGemm.pickVersion(CudaDType.BF16, KernelVersion.AUTO, 60, 128, 8, big)).isEqualTo(1);
        assertThat(CudaGroupedGemm.pickVersion(CudaDType.BF16, KernelVersion.AUTO, 64, 128, 8, big.slice(2, 1000))).isEqualTo(1);
        assertThatThrownBy(() -> CudaGroupedGemm.pickVersion(CudaDType.BF16, KernelVersion.V2, 64, 64, 8, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("float SIMT");
        assertThatThrownBy(() -> CudaGroupedGemm.pickVersion(CudaDType.F32, KernelVersion.V3, 64, 64, 8, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs BF16");
    }

    @Test
    void groupedGemmV4RunsOnlyOnHopperAndOnlyOnAlignedBf16() {
        DeviceBuffer big = bytes(1 << 24);
        DeviceInfo hopper = new DeviceInfo(0, "H200", 9, 0, 132, 60L << 20, 141L << 30, 232448);
        DeviceInfo ampere = new DeviceInfo(0, "A100", 8, 0, 108, 40L << 20, 80L << 30, 166912);
        assertThat(CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.AUTO, 4096, 14336, 8, hopper, true, big)).isEqualTo(4);
        assertThat(CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.AUTO, 4096, 14336, 8, hopper, false, big)).isEqualTo(3);
        assertThat(CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.AUTO, 4096, 14336, 8, ampere, true, big)).isEqualTo(3);
        assertThat(CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.AUTO, 60, 128, 8, hopper, true, big)).isEqualTo(1);
        assertThat(CudaGroupedGemm.pickRowsVersion(CudaDType.F32, KernelVersion.AUTO, 64, 128, 8, hopper, true, big)).isEqualTo(2);
        assertThat(CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.V4, 8, 8, 1, hopper, false, big)).isEqualTo(4);
        assertThat(CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.V4, 0, 64, 2, hopper, true, big)).isEqualTo(3);
        assertThat(CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.V3, 64, 64, 2, hopper, true, big)).isEqualTo(3);
        assertThatThrownBy(() -> CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.V4, 64, 64, 8, ampere, true, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("compute capability 9.x").hasMessageContaining("8.0");
        assertThatThrownBy(() -> CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.V4, 60, 64, 8, hopper, true, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Kd = 60, Nd = 64");
        assertThatThrownBy(() -> CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.V4, 64, 36, 8, hopper, true, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Nd = 36");
        assertThatThrownBy(() -> CudaGroupedGemm.pickRowsVersion(CudaDType.F32, KernelVersion.V4, 64, 64, 8, hopper, true, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BF16");
        assertThatThrownBy(() -> CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.V4, 64, 64, 8, hopper, true, big.slice(8, 4096)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16-byte aligned");
        assertThatThrownBy(() -> CudaGroupedGemm.pickRowsVersion(CudaDType.BF16, KernelVersion.V4, 64, 64, 5000, hopper, true, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E = 5000");
        // pickVersion alone (no device) never gives 4: V4 there follows v3's rules
        assertThat(CudaGroupedGemm.pickVersion(CudaDType.BF16, KernelVersion.V4, 64, 128, 8, big)).isEqualTo(3);
    }

    @Test
    void groupedGemmV4WeightGradientForLongGroupsOrWhenAskedForByName() {
        DeviceBuffer big = bytes(1 << 24);
        DeviceInfo hopper = new DeviceInfo(0, "H200", 9, 0, 132, 60L << 20, 141L << 30, 232448);
        DeviceInfo ampere = new DeviceInfo(0, "A100", 8, 0, 108, 40L << 20, 80L << 30, 166912);
        // AUTO: v4 for groups of 256 rows or more on average (2048 and 256 here), v3 below (128), and
        // v3 when v4 is turned off (moe4j.cuda.gg.v4=false)
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.AUTO, 2048, 7168, 64, 16384, hopper, true, big)).isEqualTo(4);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.AUTO, 768, 2048, 128, 16384, hopper, true, big)).isEqualTo(3);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.AUTO, 14336, 4096, 8, 16384, hopper, false, big)).isEqualTo(3);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V4, 768, 2048, 128, 16384, hopper, false, big)).isEqualTo(4);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.AUTO, 14336, 4096, 8, 16384, hopper, true, big)).isEqualTo(4);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.AUTO, 14336, 4096, 8, 16384, ampere, true, big)).isEqualTo(3);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.F32, KernelVersion.AUTO, 64, 64, 8, 100, hopper, true, big)).isEqualTo(2);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.AUTO, 60, 64, 8, 100, hopper, true, big)).isEqualTo(1);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V4, 8, 8, 1, 1, hopper, false, big)).isEqualTo(4);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V4, 64, 64, 2, 0, hopper, false, big)).isEqualTo(3);
        assertThat(CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V3, 64, 64, 2, 100, hopper, true, big)).isEqualTo(3);
        assertThatThrownBy(() -> CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V4, 64, 64, 8, 100, ampere, false, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("compute capability 9.x").hasMessageContaining("8.0");
        assertThatThrownBy(() -> CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V4, 60, 64, 8, 100, hopper, false, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("P = 60, Q = 64");
        assertThatThrownBy(() -> CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V4, 64, 36, 8, 100, hopper, false, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Q = 36");
        assertThatThrownBy(() -> CudaGroupedGemm.pickReduceVersion(CudaDType.F32, KernelVersion.V4, 64, 64, 8, 100, hopper, false, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BF16");
        assertThatThrownBy(() -> CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V4, 64, 64, 8, 100, hopper, false, big.slice(8, 4096)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16-byte aligned");
        assertThatThrownBy(() -> CudaGroupedGemm.pickReduceVersion(CudaDType.BF16, KernelVersion.V4, 64, 64, 5000, 100, hopper, false, big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("E = 5000");
    }

    @Test
    void tensorMapLimitsAreCheckedBeforeTheDriver() {
        assertThatThrownBy(() -> TensorMaps.tiledBf16(8, new long[] {64, 10}, new long[] {128}, new int[] {64, 128}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16-byte aligned");
        assertThatThrownBy(() -> TensorMaps.tiledBf16(256, new long[] {60, 10}, new long[] {120}, new int[] {64, 128}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("stride 1 = 120");
        assertThatThrownBy(() -> TensorMaps.tiledBf16(256, new long[] {64, 10}, new long[] {128}, new int[] {64, 512}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("box 1 = 512");
        assertThatThrownBy(() -> TensorMaps.tiledBf16(256, new long[] {128, 10}, new long[] {256}, new int[] {128, 64}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("swizzle span");
        assertThatThrownBy(() -> TensorMaps.tiledBf16(256, new long[] {0, 10}, new long[] {128}, new int[] {64, 64}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dim 0 = 0");
        assertThatThrownBy(() -> TensorMaps.tiledBf16(256, new long[] {64, 10}, new long[] {}, new int[] {64, 64}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank 2");
    }

    @Test
    void gemmChecksNameTheOperand() {
        DeviceBuffer big = bytes(1 << 20);
        CudaBlas.checkGemm(CudaDType.F32, false, false, 4, 5, 6, bytes(4 * 24), 6, 0, bytes(4 * 30), 5, 0, bytes(4 * 20), 5, 0, 1);
        assertThatThrownBy(() -> CudaBlas.checkGemm(CudaDType.F32, false, false, 4, 5, 6, bytes(4 * 23), 6, 0, big, 5, 0, big, 5, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A [4, 6]");
        assertThatThrownBy(() -> CudaBlas.checkGemm(CudaDType.F32, false, true, 4, 5, 6, big, 6, 0, big, 5, 0, big, 5, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("B [5, 6]").hasMessageContaining("leading dimension 5");
        assertThatThrownBy(() -> CudaBlas.checkGemm(CudaDType.BF16, false, false, 4, 5, 6, big, 6, 24, big, 5, 0, bytes(2 * (3 * 20 + 19)), 5, 20, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("C [4, 5]");
    }

    @Test
    void slicesKeepTrackOfAlignmentAndBounds() {
        DeviceBuffer b = bytes(1024);
        assertThat(b.isAligned(16)).isTrue();
        assertThat(b.slice(16, 32).isAligned(16)).isTrue();
        assertThat(b.slice(8, 32).isAligned(16)).isFalse();
        assertThat(b.slice(8, 32).slice(8, 8).byteOffset()).isEqualTo(16);
        assertThatThrownBy(() -> b.slice(1000, 100)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("1024");
    }

    @Test
    void gatingV3ArgumentStructPlacesEveryFieldWhereTheKernelReadsIt() {
        // GatingV3Args: 8 pointers (16 ints, null -> 0), then T, E, k, flags, n_group, topk_group,
        // masked_score, eps, scale and one int of padding: 104 bytes, a multiple of 8
        int[] a = CudaGating.v3Args(null, null, null, null, null, null, null, null, 4096, 64, 8, 5, 8, 4, -1.5f, 1e-20f, 2.5f);
        assertThat(a).hasSize(26);
        for (int i = 0; i < 16; i++) assertThat(a[i]).as("pointer word %d", i).isZero();
        assertThat(java.util.Arrays.copyOfRange(a, 16, 22)).containsExactly(4096, 64, 8, 5, 8, 4);
        assertThat(Float.intBitsToFloat(a[22])).isEqualTo(-1.5f);
        assertThat(Float.intBitsToFloat(a[23])).isEqualTo(1e-20f);
        assertThat(Float.intBitsToFloat(a[24])).isEqualTo(2.5f);
        assertThat(a[25]).isZero();
    }
}
