package dev.moe4j.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Launch shapes of reduce.cu and indexing.cu, and the launchers' checks that run before any device is touched. */
class ReduceGeometryTest {

    @Test
    void lanesCoverInnerUpToAWarpAndTheBlockStays256Threads() {
        assertThat(LaunchGeometry.reduceLanes(1)).isEqualTo(1);
        assertThat(LaunchGeometry.reduceLanes(2)).isEqualTo(2);
        assertThat(LaunchGeometry.reduceLanes(3)).isEqualTo(4);
        assertThat(LaunchGeometry.reduceLanes(17)).isEqualTo(32);
        assertThat(LaunchGeometry.reduceLanes(5000)).isEqualTo(32);
        for (int inner : new int[] {1, 2, 3, 7, 33, 1000}) {
            LaunchGeometry.Grid g = LaunchGeometry.reduce(5, inner, 1);
            assertThat(g.threadsPerBlock()).isEqualTo(LaunchGeometry.REDUCE_THREADS);
            assertThat((long) g.gx() * g.bx()).isGreaterThanOrEqualTo(5L * inner);
        }
        assertThat(LaunchGeometry.reduce(0, 4, 1).isEmpty()).isTrue();
    }

    @Test
    void chunksDependOnSizesOnlyAndCoverTheReducedDim() {
        assertThat(LaunchGeometry.reduceChunks(1, 2 * LaunchGeometry.REDUCE_MIN_CHUNK)).isEqualTo(1);
        assertThat(LaunchGeometry.reduceChunks(256, 10_000_000)).isEqualTo(1);
        assertThat(LaunchGeometry.reduceChunks(1, 1_200_003)).isGreaterThan(100);
        assertThat(LaunchGeometry.reduceChunks(1, Integer.MAX_VALUE)).isLessThanOrEqualTo(LaunchGeometry.REDUCE_MAX_CHUNKS);
        for (long outputs : new long[] {1, 3, 100, 255}) {
            for (int n : new int[] {0, 1, 8193, 8194, 700_001, 1_200_003, Integer.MAX_VALUE}) {
                int p = LaunchGeometry.reduceChunks(outputs, n);
                int len = LaunchGeometry.reduceChunkLength(n, p);
                assertThat(p).isBetween(1, LaunchGeometry.REDUCE_MAX_CHUNKS);
                assertThat((long) p * len).isGreaterThanOrEqualTo(n);
                assertThat((long) (p - 1) * len).isLessThan(Math.max(n, 1));       // no empty chunk
                if (p > 1) assertThat(len).isGreaterThanOrEqualTo(LaunchGeometry.REDUCE_MIN_CHUNK);
            }
        }
    }

    @Test
    void launchersRejectBadArgumentsBeforeAnyLaunch() {
        assertThatThrownBy(() -> CudaReduce.reduce(CudaReduce.Op.SUM, CudaDType.F32, null, 2, 3, 4, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[outer, n, inner] = [2, 3, 4]");
        assertThatThrownBy(() -> CudaReduce.reduce(CudaReduce.Op.SUM, CudaDType.F32, null, -1, 3, 4, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(">= 0");
        assertThatThrownBy(() -> CudaReduce.reduce(null, CudaDType.F32, null, 1, 1, 1, null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> CudaReduce.softmax(null, null, 1, 1, 1, false, null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> CudaIndexing.gather(3, null, 1, 1, 1, null, true, 1, false, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1, 2, 4 or 8 bytes");
        assertThatThrownBy(() -> CudaIndexing.rankSelect(CudaDType.F32, null, 2, 5, 6, true, null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k = 6");
        assertThatThrownBy(() -> CudaIndexing.copyRows(4, null, 2, 5, null, 4, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pitch 4");
        assertThatThrownBy(() -> CudaIndexing.indexAdd(CudaDType.BF16, null, 1, 2, 3, null, null, null, null, 4, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target rows = 3");
    }
}
