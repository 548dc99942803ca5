package dev.moe4j.kernels.cuda;

import static dev.moe4j.kernels.cuda.GpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.kernels.cpu.moe.Combine;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.Permute;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;

import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The device routing plan against the CPU's {@link RoutingPlan} (equal arrays), and permute, unpermute-sum,
 * combine and combine backward against the CPU references (bit for bit in float; bf16 equal to the float
 * reference on the rounded inputs, rounded once), on uniform, skewed (many zero-token experts) and
 * single-expert routings, with and without capacity, outputs poisoned with NaN first.
 */
@Tag("gpu")
class CudaRoutingTest {

    @Test
    void planEqualsTheCpuPlan() {
        CudaDevice dev = device();
        Random rnd = new Random(1);
        int[][] shapes = {{0, 2, 8}, {1, 1, 1}, {1, 2, 8}, {513, 2, 8}, {777, 8, 64}, {5000, 2, 130}, {3000, 6, 7}};
        for (int[] s : shapes) {
            int T = s[0], k = s[1], E = s[2];
            for (int skew = 0; skew < 3; skew++) {
                for (int capacity : new int[] {RoutingPlan.UNLIMITED, 0, 1, Math.max(1, T * k / E)}) {
                    int[] ids = expertIds(rnd, T, k, E, skew);
                    RoutingPlan want = RoutingPlan.build(ids, null, T, k, E, capacity, DropPolicy.BY_POSITION);
                    try (DeviceBuffer di = upload(dev, ids); DeviceRoutingPlan plan = CudaRouting.plan(di, T, k, E, capacity)) {
                        RoutingPlan got = plan.toHost();
                        String what = "T=" + T + " k=" + k + " E=" + E + " skew=" + skew + " capacity=" + capacity;
                        assertEquals(want.numRows(), plan.numRows(), what + " rows");
                        assertSameInts(what + " demand", want.demand(), got.demand());
                        assertSameInts(what + " counts", want.counts(), got.counts());
                        assertSameInts(what + " offsets", want.offsets(), got.offsets());
                        assertSameInts(what + " rowToPair", want.rowToPair(), got.rowToPair());
                        assertSameInts(what + " pairToRow", want.pairToRow(), got.pairToRow());
                        assertSameInts(what + " dropped", want.dropped(), got.dropped());
                    }
                }
            }
        }
    }

    /** Gate weights [n]: gaussian (kind 0), from five values with -0.0 and 0.0 among them (1: many ties), or all equal (2). */
    static float[] gateWeights(Random rnd, int n, int kind) {
        float[] values = {0.25f, 0.5f, -0.0f, 0.0f, -1.5f};
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = switch (kind) {
                case 0 -> (float) rnd.nextGaussian();
                case 1 -> values[rnd.nextInt(values.length)];
                default -> 0.125f;
            };
        }
        return w;
    }

    static void assertSamePlan(String what, RoutingPlan want, DeviceRoutingPlan plan) {
        RoutingPlan got = plan.toHost();
        assertEquals(want.numRows(), plan.numRows(), what + " rows");
        assertEquals(want.capacity(), got.capacity(), what + " capacity");
        assertSameInts(what + " demand", want.demand(), got.demand());
        assertSameInts(what + " counts", want.counts(), got.counts());
        assertSameInts(what + " offsets", want.offsets(), got.offsets());
        assertSameInts(what + " rowToPair", want.rowToPair(), got.rowToPair());
        assertSameInts(what + " pairToRow", want.pairToRow(), got.pairToRow());
        assertSameInts(what + " dropped", want.dropped(), got.dropped());
    }

    @Test
    void planByScoreEqualsTheCpuPlan() {
        CudaDevice dev = device();
        Random rnd = new Random(21);
        // experts over capacity with more pairs than a block's 256 threads, E not a multiple of 32, empty experts
        int[][] shapes = {{0, 2, 8}, {1, 1, 1}, {1, 2, 8}, {513, 2, 8}, {777, 8, 64}, {5000, 2, 130}, {3000, 6, 7}, {4096, 8, 64}};
        for (int[] s : shapes) {
            int T = s[0], k = s[1], E = s[2];
            for (int skew = 0; skew < 3; skew++) {
                for (int kind = 0; kind < 3; kind++) {
                    int[] caps = {RoutingPlan.UNLIMITED, 0, 1, Math.max(1, T * k / E), Math.max(1, T * k / (2 * E)), 300, T * k};
                    for (int capacity : caps) {
                        int[] ids = expertIds(rnd, T, k, E, skew);
                        float[] w = gateWeights(rnd, T * k, kind);
                        RoutingPlan want = RoutingPlan.build(ids, w, T, k, E, capacity, DropPolicy.BY_SCORE);
                        try (DeviceBuffer di = upload(dev, ids); DeviceBuffer dw = upload(dev, w);
                             DeviceRoutingPlan plan = CudaRouting.plan(di, dw, T, k, E, capacity, DropPolicy.BY_SCORE)) {
                            assertSamePlan("by score T=" + T + " k=" + k + " E=" + E + " skew=" + skew + " weights=" + kind
                                    + " capacity=" + capacity, want, plan);
                        }
                    }
                }
            }
        }
    }

    @Test
    void planByPositionThroughTheNewEntryIgnoresTheWeights() {
        CudaDevice dev = device();
        Random rnd = new Random(23);
        int T = 1000, k = 4, E = 40;
        int[] ids = expertIds(rnd, T, k, E, 1);
        float[] w = gateWeights(rnd, T * k, 0);
        w[5] = Float.NaN;                                   // not read: by position needs no weights
        for (int capacity : new int[] {RoutingPlan.UNLIMITED, 3, 50}) {
            RoutingPlan want = RoutingPlan.build(ids, null, T, k, E, capacity, DropPolicy.BY_POSITION);
            try (DeviceBuffer di = upload(dev, ids); DeviceBuffer dw = upload(dev, w);
                 DeviceRoutingPlan a = CudaRouting.plan(di, dw, T, k, E, capacity, DropPolicy.BY_POSITION);
                 DeviceRoutingPlan b = CudaRouting.plan(di, null, T, k, E, capacity, DropPolicy.BY_POSITION)) {
                assertSamePlan("by position with weights, capacity " + capacity, want, a);
                assertSamePlan("by position without weights, capacity " + capacity, want, b);
            }
        }
        // no capacity: BY_SCORE keeps every pair and needs no weights
        RoutingPlan all = RoutingPlan.build(ids, T, k, E);
        try (DeviceBuffer di = upload(dev, ids); DeviceRoutingPlan p = CudaRouting.plan(di, null, T, k, E, RoutingPlan.UNLIMITED, DropPolicy.BY_SCORE)) {
            assertSamePlan("by score without capacity", all, p);
        }
    }

    @Test
    void planByScoreIsIdenticalRunToRun() {
        CudaDevice dev = device();
        Random rnd = new Random(25);
        int T = 4096, k = 8, E = 64, capacity = T * k / E;
        int[] ids = expertIds(rnd, T, k, E, 1);
        float[] w = gateWeights(rnd, T * k, 1);
        RoutingPlan want = RoutingPlan.build(ids, w, T, k, E, capacity, DropPolicy.BY_SCORE);
        try (DeviceBuffer di = upload(dev, ids); DeviceBuffer dw = upload(dev, w)) {
            for (int run = 0; run < 4; run++) {
                try (DeviceRoutingPlan plan = CudaRouting.plan(di, dw, T, k, E, capacity, DropPolicy.BY_SCORE)) {
                    assertSamePlan("run " + run, want, plan);
                }
            }
        }
    }

    @Test
    void aNanGateWeightUnderDropByScoreNamesItsTokenAndSlot() {
        CudaDevice dev = device();
        int[] ids = {0, 1, 2, 3, 9, 1};                   // the NaN is reported before the bad id, as on the CPU
        float[] w = {0.5f, 0.5f, 0.5f, Float.NaN, 0.5f, Float.NaN};
        try (DeviceBuffer di = upload(dev, ids); DeviceBuffer dw = upload(dev, w)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CudaRouting.plan(di, dw, 3, 2, 8, 1, DropPolicy.BY_SCORE));
            assertTrue(e.getMessage().contains("token 1, slot 1"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> RoutingPlan.build(ids, w, 3, 2, 8, 1, DropPolicy.BY_SCORE));
        }
    }

    @Test
    void anExpertIdOutOfRangeNamesItsTokenAndSlot() {
        CudaDevice dev = device();
        int[] ids = {0, 1, 2, 3, 9, 1};
        try (DeviceBuffer di = upload(dev, ids)) {
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> CudaRouting.plan(di, 3, 2, 8, -1));
            assertTrue(e.getMessage().contains("expert id 9 at token 2, slot 0"), e.getMessage());
        }
    }

    @Test
    void rowMovementsMatchTheCpuReferences() {
        CudaDevice dev = device();
        Random rnd = new Random(2);
        int[][] shapes = {{0, 2, 8, 16}, {1, 1, 1, 3}, {37, 2, 8, 5}, {300, 8, 64, 64}, {257, 2, 16, 136}, {1000, 4, 32, 1000}};
        for (int[] s : shapes) {
            int T = s[0], k = s[1], E = s[2], d = s[3];
            for (int skew = 0; skew < 4; skew++) {
                // skew 3: the skewed routing again, dropping by score
                int capacity = skew % 2 == 1 ? Math.max(1, T * k / (2 * E)) : RoutingPlan.UNLIMITED;
                DropPolicy policy = skew == 3 ? DropPolicy.BY_SCORE : DropPolicy.BY_POSITION;
                int[] ids = expertIds(rnd, T, k, E, skew == 3 ? 1 : skew);
                float[] gate = gateWeights(rnd, T * k, 0);
                RoutingPlan cpu = RoutingPlan.build(ids, gate, T, k, E, capacity, policy);
                try (DeviceBuffer di = upload(dev, ids); DeviceBuffer dg = upload(dev, gate);
                     DeviceRoutingPlan plan = CudaRouting.plan(di, dg, T, k, E, capacity, policy)) {
                    assertSamePlan("T=" + T + " k=" + k + " E=" + E + " skew=" + skew + " " + policy, cpu, plan);
                    for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.AUTO}) {
                        String what = "T=" + T + " k=" + k + " E=" + E + " d=" + d + " skew=" + skew + " " + policy + " " + v;
                        checkF32(dev, rnd, cpu, plan, d, v, what);
                        checkBf16(dev, rnd, cpu, plan, d, v, what);
                    }
                }
            }
        }
    }

    private static void checkF32(CudaDevice dev, Random rnd, RoutingPlan cpu, DeviceRoutingPlan plan, int d, KernelVersion v, String what) {
        int T = cpu.numTokens(), R = cpu.numRows(), P = cpu.numPairs();
        float[] x = gaussian(rnd, T * d), rows = gaussian(rnd, R * d), w = gaussian(rnd, P), dy = gaussian(rnd, T * d);
        float[] xPerm = new float[R * d], dx = new float[T * d], y = new float[T * d], dyPerm = new float[R * d], dw = new float[P];
        Permute.permuteReference(cpu, x, d, xPerm);
        Permute.permuteBackwardReference(cpu, rows, d, dx);
        Combine.combineReference(cpu, w, rows, d, y);
        Combine.combineBackwardReference(cpu, w, rows, dy, d, dyPerm, dw);
        try (DeviceBuffer gx = upload(dev, x); DeviceBuffer grows = upload(dev, rows); DeviceBuffer gw = upload(dev, w); DeviceBuffer gdy = upload(dev, dy);
             DeviceBuffer o1 = poisoned32(dev, (long) R * d); DeviceBuffer o2 = poisoned32(dev, (long) T * d); DeviceBuffer o3 = poisoned32(dev, (long) T * d);
             DeviceBuffer o4 = poisoned32(dev, (long) R * d); DeviceBuffer o5 = poisoned32(dev, P)) {
            CudaRouting.permute(plan, CudaDType.F32, gx, d, o1, v);
            CudaRouting.permuteBackward(plan, CudaDType.F32, grows, d, o2, v);
            CudaRouting.combine(plan, CudaDType.F32, gw, grows, d, o3, v);
            CudaRouting.combineBackward(plan, CudaDType.F32, gw, grows, gdy, d, o4, o5, v);
            assertSameFloats(what + " permute", xPerm, o1.readFloats(R * d));
            assertSameFloats(what + " unpermute-sum", dx, o2.readFloats(T * d));
            assertSameFloats(what + " combine", y, o3.readFloats(T * d));
            assertSameFloats(what + " combine dyPerm", dyPerm, o4.readFloats(R * d));
            assertCloseToScale(what + " combine dWeights", widen(dw), o5.readFloats(P), DOT_TOL * Math.max(1, d), 1e-6);
        }
    }

    private static void checkBf16(CudaDevice dev, Random rnd, RoutingPlan cpu, DeviceRoutingPlan plan, int d, KernelVersion v, String what) {
        int T = cpu.numTokens(), R = cpu.numRows(), P = cpu.numPairs();
        short[] x = toBf16(gaussian(rnd, T * d)), rows = toBf16(gaussian(rnd, R * d)), dy = toBf16(gaussian(rnd, T * d));
        float[] w = gaussian(rnd, P);
        float[] xPerm = new float[R * d], dx = new float[T * d], y = new float[T * d], dyPerm = new float[R * d], dw = new float[P];
        Permute.permuteReference(cpu, fromBf16(x), d, xPerm);
        Permute.permuteBackwardReference(cpu, fromBf16(rows), d, dx);
        Combine.combineReference(cpu, w, fromBf16(rows), d, y);
        Combine.combineBackwardReference(cpu, w, fromBf16(rows), fromBf16(dy), d, dyPerm, dw);
        try (DeviceBuffer gx = upload(dev, x); DeviceBuffer grows = upload(dev, rows); DeviceBuffer gw = upload(dev, w); DeviceBuffer gdy = upload(dev, dy);
             DeviceBuffer o1 = poisoned16(dev, (long) R * d); DeviceBuffer o2 = poisoned16(dev, (long) T * d); DeviceBuffer o3 = poisoned16(dev, (long) T * d);
             DeviceBuffer o4 = poisoned16(dev, (long) R * d); DeviceBuffer o5 = poisoned32(dev, P)) {
            CudaRouting.permute(plan, CudaDType.BF16, gx, d, o1, v);
            CudaRouting.permuteBackward(plan, CudaDType.BF16, grows, d, o2, v);
            CudaRouting.combine(plan, CudaDType.BF16, gw, grows, d, o3, v);
            CudaRouting.combineBackward(plan, CudaDType.BF16, gw, grows, gdy, d, o4, o5, v);
            assertSameFloats(what + " bf16 permute", xPerm, fromBf16(o1.readShorts(R * d)));
            assertSameFloats(what + " bf16 unpermute-sum", roundBf16(dx), fromBf16(o2.readShorts(T * d)));
            assertSameFloats(what + " bf16 combine", roundBf16(y), fromBf16(o3.readShorts(T * d)));
            assertSameFloats(what + " bf16 combine dyPerm", roundBf16(dyPerm), fromBf16(o4.readShorts(R * d)));
            assertCloseToScale(what + " bf16 combine dWeights", widen(dw), o5.readFloats(P), DOT_TOL * Math.max(1, d), 1e-6);
        }
    }

    @Test
    void resultsAreIdenticalRunToRun() {
        CudaDevice dev = device();
        Random rnd = new Random(9);
        int T = 2048, k = 8, E = 64, d = 256;
        int[] ids = expertIds(rnd, T, k, E, 1);
        float[] rows = gaussian(rnd, T * k * d), w = gaussian(rnd, T * k), dy = gaussian(rnd, T * d);
        try (DeviceBuffer di = upload(dev, ids); DeviceRoutingPlan plan = CudaRouting.plan(di, T, k, E, -1);
             DeviceBuffer grows = upload(dev, rows); DeviceBuffer gw = upload(dev, w); DeviceBuffer gdy = upload(dev, dy);
             DeviceBuffer y = dev.allocate(4L * T * d); DeviceBuffer dw = dev.allocate(4L * T * k)) {
            CudaRouting.combine(plan, CudaDType.F32, gw, grows, d, y);
            CudaRouting.combineBackward(plan, CudaDType.F32, gw, grows, gdy, d, null, dw);
            float[] y0 = y.readFloats(T * d), dw0 = dw.readFloats(T * k);
            for (int rep = 0; rep < 3; rep++) {
                CudaRouting.combine(plan, CudaDType.F32, gw, grows, d, y);
                CudaRouting.combineBackward(plan, CudaDType.F32, gw, grows, gdy, d, null, dw);
                assertSameFloats("combine, repeat " + rep, y0, y.readFloats(T * d));
                assertSameFloats("dWeights, repeat " + rep, dw0, dw.readFloats(T * k));
            }
        }
    }
}
