package dev.moe4j.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.kernels.cuda.DeviceRoutingPlan;
import dev.moe4j.kernels.cuda.KernelBuild;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Tensor;

import java.util.Random;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link CudaMoe#plan(Tensor, Tensor, int, int, DropPolicy)}: the device plan with capacity by score equals the CPU's. */
@Tag("gpu")
class CudaMoePlanTest {
    static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsAGpu() {
        Assumptions.assumeTrue(CudaProbe.available(), () -> "no CUDA device: " + CudaProbe.reason());
        Assumptions.assumeTrue(KernelBuild.available(), () -> "CUDA kernels not built: " + KernelBuild.reason());
    }

    @Test
    void planByScoreFromTensorsEqualsTheCpuPlan() {
        Random rnd = new Random(31);
        int T = 700, k = 4, E = 24;
        int[] ids = new int[T * k];
        float[] w = new float[T * k];
        for (int t = 0; t < T; t++) {
            int first = (int) (E * Math.pow(rnd.nextDouble(), 3));    // skewed: some experts far over capacity
            for (int j = 0; j < k; j++) {
                ids[t * k + j] = (first + 5 * j) % E;
                w[t * k + j] = rnd.nextInt(8) / 8f;                    // many equal weights
            }
        }
        Tensor tIds = Tensor.of(ids, T, k).to(GPU), tW = Tensor.of(w, T, k).to(GPU);
        for (int capacity : new int[] {RoutingPlan.UNLIMITED, 0, 17, T * k / E}) {
            for (DropPolicy policy : DropPolicy.values()) {
                RoutingPlan want = RoutingPlan.build(ids, w, T, k, E, capacity, policy);
                try (DeviceRoutingPlan plan = CudaMoe.plan(tIds, tW, E, capacity, policy)) {
                    RoutingPlan got = plan.toHost();
                    String what = policy + " capacity " + capacity;
                    assertEquals(want.numRows(), got.numRows(), what + " rows");
                    assertArrayEquals(want.counts(), got.counts(), what + " counts");
                    assertArrayEquals(want.offsets(), got.offsets(), what + " offsets");
                    assertArrayEquals(want.rowToPair(), got.rowToPair(), what + " rowToPair");
                    assertArrayEquals(want.pairToRow(), got.pairToRow(), what + " pairToRow");
                    assertArrayEquals(want.dropped(), got.dropped(), what + " dropped");
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> CudaMoe.plan(tIds, null, E, 3, DropPolicy.BY_SCORE));
        assertThrows(IllegalArgumentException.class, () -> CudaMoe.plan(tIds, Tensor.of(w, T * k).to(GPU), E, 3, DropPolicy.BY_SCORE));
    }
}
