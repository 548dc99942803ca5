package dev.moe4j.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** Launch shapes: every element covered, blocks within limits, versions chosen as documented. */
class LaunchGeometryTest {

    @Test
    void gatingPicksTheSmallestRegisterCountThatHoldsTheExperts() {
        assertThat(LaunchGeometry.gatingExpertsPerLane(1, 1, 1)).isEqualTo(1);
        assertThat(LaunchGeometry.gatingExpertsPerLane(32, 2, 1)).isEqualTo(1);
        assertThat(LaunchGeometry.gatingExpertsPerLane(33, 2, 1)).isEqualTo(2);
        assertThat(LaunchGeometry.gatingExpertsPerLane(64, 8, 1)).isEqualTo(2);
        assertThat(LaunchGeometry.gatingExpertsPerLane(160, 6, 8)).isEqualTo(8);
        assertThat(LaunchGeometry.gatingExpertsPerLane(256, 8, 8)).isEqualTo(8);
        assertThat(LaunchGeometry.gatingExpertsPerLane(512, 32, 32)).isEqualTo(16);
        assertThat(LaunchGeometry.gatingExpertsPerLane(513, 8, 1)).isZero();
        assertThat(LaunchGeometry.gatingExpertsPerLane(64, 33, 1)).isZero();
        assertThat(LaunchGeometry.gatingExpertsPerLane(64, 8, 64)).isZero();
    }

    @Test
    void gatingGridsCoverEveryToken() {
        for (int t : new int[] {0, 1, 3, 4, 5, 4096, 4097}) {
            LaunchGeometry.Grid v2 = LaunchGeometry.gatingV2(t);
            assertThat((long) v2.gx() * LaunchGeometry.GATING_WARPS).isGreaterThanOrEqualTo(t).isLessThan(t + LaunchGeometry.GATING_WARPS + (t == 0 ? 1 : 0));
            assertThat(v2.threadsPerBlock()).isEqualTo(128);
            LaunchGeometry.Grid v1 = LaunchGeometry.gatingV1(t);
            assertThat((long) v1.gx() * v1.bx()).isGreaterThanOrEqualTo(t);
        }
        assertThat(LaunchGeometry.gatingV2(0).isEmpty()).isTrue();
    }

    @Test
    void gatingV3GridIsCappedPerSmAndCoversEveryTokenOnce() {
        for (int sms : new int[] {1, 108, 132}) {
            for (int t : new int[] {0, 1, 7, 8, 9, 4096, 4097, 1 << 20}) {
                LaunchGeometry.Grid g = LaunchGeometry.gatingV3(t, sms);
                assertThat(g.threadsPerBlock()).isEqualTo(32 * LaunchGeometry.GATING_V3_WARPS);
                assertThat(g.gx()).isLessThanOrEqualTo(LaunchGeometry.GATING_V3_BLOCKS_PER_SM * sms);
                // no block without a token (every block must reach the histogram's ticket with work done)
                assertThat((long) (g.gx() - 1) * LaunchGeometry.GATING_V3_WARPS).isLessThan(Math.max(t, 1));
                if (t > 0) assertThat(g.gx()).isPositive();
            }
        }
        assertThat(LaunchGeometry.gatingV3(4096, 132).gx()).isEqualTo(512);
        assertThat(LaunchGeometry.gatingV3(1 << 20, 132).gx()).isEqualTo(528);
        assertThat(LaunchGeometry.gatingV3(0, 132).isEmpty()).isTrue();
    }

    @Test
    void gatingV3VectorWidthFollowsEAndAlignment() {
        assertThat(LaunchGeometry.gatingV3Vector(64, 2, true, true)).isEqualTo(2);      // 2 experts per lane: 8-byte loads
        assertThat(LaunchGeometry.gatingV3Vector(128, 4, true, true)).isEqualTo(4);
        assertThat(LaunchGeometry.gatingV3Vector(256, 8, true, true)).isEqualTo(4);
        assertThat(LaunchGeometry.gatingV3Vector(130, 8, true, true)).isEqualTo(2);     // E % 4 == 2
        assertThat(LaunchGeometry.gatingV3Vector(33, 2, true, true)).isEqualTo(1);      // odd E
        assertThat(LaunchGeometry.gatingV3Vector(32, 1, true, true)).isEqualTo(1);      // one expert per lane
        assertThat(LaunchGeometry.gatingV3Vector(128, 4, false, true)).isEqualTo(2);    // rows 8-byte aligned only
        assertThat(LaunchGeometry.gatingV3Vector(128, 4, false, false)).isEqualTo(1);
        for (int e = 1; e <= 512; e++) {
            int epl = LaunchGeometry.gatingExpertsPerLane(e, 1, 1);
            int v = LaunchGeometry.gatingV3Vector(e, epl, true, true);
            assertThat(e % v).isZero();
            assertThat(v).isLessThanOrEqualTo(epl);
        }
    }

    @Test
    void routingChunksCoverEveryPair() {
        assertThat(LaunchGeometry.routingChunks(0)).isZero();
        assertThat(LaunchGeometry.routingChunks(1)).isEqualTo(1);
        assertThat(LaunchGeometry.routingChunks(LaunchGeometry.ROUTING_CHUNK)).isEqualTo(1);
        assertThat(LaunchGeometry.routingChunks(LaunchGeometry.ROUTING_CHUNK + 1)).isEqualTo(2);
        assertThat(LaunchGeometry.routingScan(1).bx()).isEqualTo(32);
        assertThat(LaunchGeometry.routingScan(64).bx()).isEqualTo(64);
        assertThat(LaunchGeometry.routingScan(100).bx()).isEqualTo(128);
        assertThat(LaunchGeometry.routingScan(5000).bx()).isEqualTo(1024);
    }

    @Test
    void rowKernelsCoverEveryRowWithFullWarps() {
        Random rnd = new Random(7);
        for (int i = 0; i < 200; i++) {
            int rows = rnd.nextInt(5000), vecs = 1 + rnd.nextInt(2000), d = 1 + rnd.nextInt(9000);
            LaunchGeometry.Grid p = LaunchGeometry.permuteV2(rows, vecs);
            assertThat(p.bx() % 32).isZero();
            assertThat(p.threadsPerBlock()).isEqualTo(256);
            assertThat((long) p.gx() * p.by()).isGreaterThanOrEqualTo(rows);
            for (int per : new int[] {1, 4, 8}) {
                LaunchGeometry.Grid g = LaunchGeometry.tokenRows(rows, d, per);
                assertThat(g.bx() % 32).isZero();
                assertThat(g.bx()).isBetween(32, 128);
                assertThat(g.threadsPerBlock()).isEqualTo(256);
                assertThat((long) g.gx() * g.by()).isGreaterThanOrEqualTo(rows);
            }
            LaunchGeometry.Grid w = LaunchGeometry.warpPerToken(rows);
            assertThat(w.bx()).isEqualTo(32);
            assertThat((long) w.gx() * w.by()).isGreaterThanOrEqualTo(rows);
        }
        // d = 4096 bf16 rows: 512 vectors, 128 threads of 4 vectors each
        assertThat(LaunchGeometry.permuteV2(10, 512).bx()).isEqualTo(128);
        assertThat(LaunchGeometry.elementwise(1L << 40).gx()).isEqualTo(65535);
    }

    @Test
    void groupedTileBoundsHoldForEveryRaggedSplit() {
        Random rnd = new Random(11);
        for (int i = 0; i < 500; i++) {
            int e = 1 + rnd.nextInt(130), n = 1 + rnd.nextInt(3000), tile = rnd.nextBoolean() ? 64 : 128;
            int[] rows = new int[e];
            int m = 0;
            for (int g = 0; g < e; g++) {
                rows[g] = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(700);
                m += rows[g];
            }
            long tiles = 0;
            for (int r : rows) tiles += (long) ((r + tile - 1) / tile) * ((n + tile - 1) / tile);
            assertThat(LaunchGeometry.rowsTiles(m, e, n, tile)).isGreaterThanOrEqualTo(tiles);
        }
        LaunchGeometry.Grid g = LaunchGeometry.persistent(10, 132, 2, 256);
        assertThat(g.gx()).isEqualTo(10);
        assertThat(LaunchGeometry.persistent(100_000, 132, 2, 256).gx()).isEqualTo(264);
        assertThat(LaunchGeometry.persistent(0, 132, 2, 256).isEmpty()).isTrue();
    }

    @Test
    void tensorCoreSharedMemoryFitsAnH100AndAnA100Block() {
        // 4 stages: k-major tiles [128][40] bf16 = 10240 B, the others [32][136] = 8704 B
        assertThat(LaunchGeometry.groupedV3SharedBytes(true, true, 0)).isEqualTo(4 * 2 * 10240);
        assertThat(LaunchGeometry.groupedV3SharedBytes(true, false, 0)).isEqualTo(4 * (10240 + 8704));
        assertThat(LaunchGeometry.groupedV3SharedBytes(false, false, 0)).isEqualTo(4 * 2 * 8704);
        assertThat(LaunchGeometry.groupedV3SharedBytes(true, true, 4096)).isEqualTo(4 * 2 * 10240 + 4 * 4097)
                .isLessThanOrEqualTo(163 * 1024);
    }

    @Test
    void v4TilesAndSharedMemoryFitAHopperBlock() {
        Random rnd = new Random(12);
        for (int i = 0; i < 500; i++) {
            int e = 1 + rnd.nextInt(130), n = 8 * (1 + rnd.nextInt(2000));
            int m = 0;
            long tiles = 0;
            for (int g = 0; g < e; g++) {
                int r = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(3000);
                m += r;
                tiles += (long) ((r + 127) / 128) * ((n + 255) / 256);
            }
            assertThat(LaunchGeometry.rowsTiles(m, e, n, 128, 256)).isGreaterThanOrEqualTo(tiles);
        }
        // 1024 alignment slack + 4 stages of A [128][64] and B [256][64] bf16 (48 KiB) + 8 mbarriers + tile_start
        assertThat(LaunchGeometry.groupedV4SharedBytes(0)).isEqualTo(1024 + 4 * 49152 + 64 + 4);
        // E = 4096 still fits the 227 KiB a Hopper block may opt in to
        assertThat(LaunchGeometry.groupedV4SharedBytes(4096)).isLessThanOrEqualTo(227 * 1024);
        assertThat(LaunchGeometry.groupedV4ReduceSharedBytes()).isEqualTo(1024 + 4 * 49152 + 64).isLessThanOrEqualTo(227 * 1024);
        assertThat(LaunchGeometry.reduceTiles(8, 14336, 4096, 128, 256)).isEqualTo(8L * 112 * 16);
        assertThat(LaunchGeometry.reduceTiles(3, 40, 264, 128, 256)).isEqualTo(3L * 1 * 2);
        assertThat(LaunchGeometry.persistent(LaunchGeometry.rowsTiles(16384, 8, 14336, 128, 256), 132, 1, LaunchGeometry.GG_V4_THREADS).gx())
                .isEqualTo(132);
    }

    @Test
    void invalidGridsAreRejected() {
        assertThatThrownBy(() -> new LaunchGeometry.Grid(1, 1, 1, 1025, 1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LaunchGeometry.Grid(-1, 1, 1, 32, 1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LaunchGeometry.ceilDiv(1L << 40, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exceeds");
    }
}
