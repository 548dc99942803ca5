package dev.moe4j.kernels.cuda;

import static dev.moe4j.kernels.cuda.GpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.moe4j.kernels.cpu.moe.Gating;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cpu.moe.GroupScore;
import dev.moe4j.kernels.cpu.moe.ScoreFunction;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Device gating (every version) against the CPU's {@link Gating}: same expert ids and counts, weights
 * and scores to float precision (v3's weights within 1e-6 relative), backward to float precision.
 * Logits are a shuffled lattice per token, so the scores are well apart and float rounding cannot
 * reorder them; ties are tested on their own. Outputs are poisoned with NaN (ints with NaN bits) first.
 */
@Tag("gpu")
class CudaGatingTest {

    /** Logits [T, E]: per token a random permutation of a lattice of step 8 / E around 0, plus a token offset. */
    static float[] latticeLogits(Random rnd, int T, int E) {
        float[] l = new float[T * E];
        List<Integer> perm = new ArrayList<>();
        for (int e = 0; e < E; e++) perm.add(e);
        for (int t = 0; t < T; t++) {
            Collections.shuffle(perm, rnd);
            float off = (float) rnd.nextGaussian();
            for (int e = 0; e < E; e++) l[t * E + e] = off + (perm.get(e) - E / 2f) * (8f / E);
        }
        return l;
    }

    static List<GatingConfig> configs() {
        return List.of(
                GatingConfig.mixtral(2),
                GatingConfig.softmaxTopK(1, false),
                GatingConfig.softmaxTopK(8, true),
                GatingConfig.deepseekV3(8, 8, 4, true, 2.5f),
                GatingConfig.deepseekV3(6, 4, 2, false, 1f).withMaskedScore(Float.NEGATIVE_INFINITY),
                new GatingConfig(ScoreFunction.SOFTMAX, 4, 4, 3, GroupScore.MAX, 0f, true, 1e-20f, 1.5f, true),
                new GatingConfig(ScoreFunction.SIGMOID, 3, 1, 1, GroupScore.SUM_TOP2, 0f, true, 1e-6f, 1f, false));
    }

    /** Every version; AUTO is v3 where the warp kernels run, v1 elsewhere. */
    static final KernelVersion[] VERSIONS = {KernelVersion.V1, KernelVersion.V2, KernelVersion.V3, KernelVersion.AUTO};

    /** v3 weights against the CPU: relative to |want|. */
    static final double V3_WEIGHT_TOL = 1e-6;

    @Test
    void forwardMatchesTheCpuForEveryConfigurationVersionAndSize() {
        CudaDevice dev = device();
        Random rnd = new Random(42);
        // not multiples of 32, above 32, and each vector width of v3 (odd E: 4-byte loads; E % 4 == 2: 8-byte)
        int[] experts = {7, 8, 16, 33, 48, 64, 100, 130, 160, 256, 600};
        for (GatingConfig c : configs()) {
            for (int E : experts) {
                if (!isValid(c, E)) continue;
                for (int T : new int[] {0, 1, 37, 1000}) {
                    for (KernelVersion v : VERSIONS) {
                        if (!runs(v, c, E)) continue;
                        boolean withBias = rnd.nextBoolean();
                        check(dev, rnd, c, T, E, withBias, v);
                    }
                }
            }
        }
    }

    /** Whether version {@code v} runs {@code c} with E experts (v2 and v3 need E <= 512, k <= 32, nGroup <= 32). */
    static boolean runs(KernelVersion v, GatingConfig c, int E) {
        return v == KernelVersion.V1 || v == KernelVersion.AUTO || LaunchGeometry.gatingExpertsPerLane(E, c.k(), c.nGroup()) > 0;
    }

    @Test
    void v3WarpsLoopOverManyTokens() {
        // more tokens than v3 has warps (at most 4 blocks of 8 warps per SM): each warp takes several
        CudaDevice dev = device();
        Random rnd = new Random(7);
        int warps = LaunchGeometry.gatingV3(Integer.MAX_VALUE, dev.info().multiprocessors()).gx() * LaunchGeometry.GATING_V3_WARPS;
        int T = 3 * warps + 5;
        check(dev, rnd, GatingConfig.softmaxTopK(8, true), T, 64, false, KernelVersion.V3);
        check(dev, rnd, GatingConfig.deepseekV3(8, 8, 4, true, 2.5f), T, 256, true, KernelVersion.V3);
        check(dev, rnd, new GatingConfig(ScoreFunction.SIGMOID, 5, 1, 1, GroupScore.SUM_TOP2, 0f, false, 0f, 1f, false), T, 37, true, KernelVersion.V3);
    }

    @Test
    void v3ReadsRowsThatAreNotVectorAligned() {
        // logits and scores start 4 or 8 bytes into their buffers: v3 drops to 8- or 4-byte accesses
        CudaDevice dev = device();
        Random rnd = new Random(11);
        for (int E : new int[] {64, 128, 256}) {
            for (int shift : new int[] {4, 8}) {
                GatingConfig c = GatingConfig.softmaxTopK(8, true);
                int T = 301, k = c.k();
                float[] logits = latticeLogits(rnd, T, E), scores = new float[T * E], weights = new float[T * k];
                int[] ids = new int[T * k], counts = new int[E];
                Gating.forward(c, logits, T, E, null, scores, weights, ids, counts);
                try (DeviceBuffer bl = dev.allocate(4L * T * E + 16); DeviceBuffer bs = poisoned32(dev, (long) T * E + 4);
                     DeviceBuffer dw = poisoned32(dev, (long) T * k); DeviceBuffer di = poisoned32(dev, (long) T * k);
                     DeviceBuffer dc = poisoned32(dev, E)) {
                    DeviceBuffer dl = bl.slice(shift, 4L * T * E), ds = bs.slice(4, 4L * T * E);
                    dl.write(logits);
                    CudaGating.forward(c, dl, T, E, null, ds, dw, di, dc, KernelVersion.V3);
                    String what = "E=" + E + " logits at +" + shift + " bytes";
                    assertSameInts(what + " ids", ids, di.readInts(T * k));
                    assertSameInts(what + " counts", counts, dc.readInts(E));
                    assertRelative(what + " weights", weights, dw.readFloats(T * k), V3_WEIGHT_TOL);
                    assertClose(what + " scores", scores, ds.readFloats(T * E), GATING_TOL);
                }
            }
        }
    }

    @Test
    void v3IsIdenticalRunToRunAndLeavesNothingBehind() {
        // repeated launches (with others of different E between them) give the same bits and the right
        // counts each time: the histogram's workspace is back to zero after every launch
        CudaDevice dev = device();
        Random rnd = new Random(13);
        GatingConfig a = GatingConfig.softmaxTopK(8, true), b = GatingConfig.deepseekV3(8, 8, 4, true, 2.5f);
        int T = 4096, Ea = 64, Eb = 256;
        float[] la = latticeLogits(rnd, T, Ea), lb = latticeLogits(rnd, T, Eb), bias = gaussian(rnd, Eb);
        float[] wa = new float[T * 8], wb = new float[T * 8];
        int[] ia = new int[T * 8], ib = new int[T * 8], ca = new int[Ea], cb = new int[Eb];
        Gating.forward(a, la, T, Ea, null, null, wa, ia, ca);
        Gating.forward(b, lb, T, Eb, bias, null, wb, ib, cb);
        try (DeviceBuffer dla = upload(dev, la); DeviceBuffer dlb = upload(dev, lb); DeviceBuffer dbias = upload(dev, bias);
             DeviceBuffer dw = dev.allocate(4L * T * 8); DeviceBuffer di = dev.allocate(4L * T * 8); DeviceBuffer dc = dev.allocate(4L * Eb)) {
            float[] firstA = null, firstB = null;
            for (int run = 0; run < 4; run++) {
                dw.fill32(NAN_BITS); di.fill32(NAN_BITS); dc.fill32(NAN_BITS);
                CudaGating.forward(a, dla, T, Ea, null, null, dw, di, dc, KernelVersion.V3);
                assertSameInts("run " + run + " ids (E = 64)", ia, di.readInts(T * 8));
                assertSameInts("run " + run + " counts (E = 64)", ca, dc.readInts(Ea));
                float[] w = dw.readFloats(T * 8);
                assertRelative("run " + run + " weights (E = 64)", wa, w, V3_WEIGHT_TOL);
                if (firstA == null) firstA = w; else assertSameFloats("run " + run + " weights equal run 0's (E = 64)", firstA, w);

                dw.fill32(NAN_BITS); di.fill32(NAN_BITS); dc.fill32(NAN_BITS);
                CudaGating.forward(b, dlb, T, Eb, dbias, null, dw, di, dc, KernelVersion.V3);
                assertSameInts("run " + run + " ids (E = 256)", ib, di.readInts(T * 8));
                assertSameInts("run " + run + " counts (E = 256)", cb, dc.readInts(Eb));
                w = dw.readFloats(T * 8);
                assertRelative("run " + run + " weights (E = 256)", wb, w, V3_WEIGHT_TOL);
                if (firstB == null) firstB = w; else assertSameFloats("run " + run + " weights equal run 0's (E = 256)", firstB, w);
            }
        }
    }

    @Test
    void expertsNobodyChoosesCountZero() {
        // a bias far above the scores sends every token to experts 0..7; the other 92 count zero
        CudaDevice dev = device();
        Random rnd = new Random(17);
        int T = 500, E = 100;
        float[] bias = new float[E];
        for (int e = 0; e < 8; e++) bias[e] = 100 + 3 * e;
        GatingConfig c = GatingConfig.softmaxTopK(8, false);
        for (KernelVersion v : VERSIONS) {
            float[] logits = latticeLogits(rnd, T, E), weights = new float[T * 8];
            int[] ids = new int[T * 8], counts = new int[E];
            Gating.forward(c, logits, T, E, bias, null, weights, ids, counts);
            try (DeviceBuffer dl = upload(dev, logits); DeviceBuffer db = upload(dev, bias); DeviceBuffer dw = poisoned32(dev, T * 8L);
                 DeviceBuffer di = poisoned32(dev, T * 8L); DeviceBuffer dc = poisoned32(dev, E)) {
                CudaGating.forward(c, dl, T, E, db, null, dw, di, dc, v);
                int[] got = dc.readInts(E);
                assertSameInts(v + " counts", counts, got);
                for (int e = 8; e < E; e++) assertTrue(got[e] == 0, v + ": expert " + e + " counts " + got[e]);
                assertSameInts(v + " ids", ids, di.readInts(T * 8));
                assertClose(v + " weights", weights, dw.readFloats(T * 8), GATING_TOL);
            }
        }
    }

    /** |got - want| <= tol * |want| element-wise (NaN never passes). */
    static void assertRelative(String what, float[] want, float[] got, double tol) {
        assertTrue(want.length == got.length, what + ": lengths " + want.length + " and " + got.length);
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs((double) got[i] - want[i]);
            if (!(err <= tol * Math.abs(want[i]))) fail(what + " at " + i + ": want " + want[i] + ", got " + got[i] + " (relative error " + err / Math.abs(want[i]) + ")");
        }
    }

    /** Whether the CPU reference accepts {@code c} with {@code E} experts (only those are compared). */
    private static boolean isValid(GatingConfig c, int E) {
        try {
            c.validate(E);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static void check(CudaDevice dev, Random rnd, GatingConfig c, int T, int E, boolean withBias, KernelVersion v) {
        String what = c + " T=" + T + " E=" + E + " bias=" + (withBias || c.groupLimited()) + " " + v;
        int k = c.k();
        float[] logits = latticeLogits(rnd, T, E);
        float[] bias = null;
        if (withBias || c.groupLimited()) {
            // multiples of 3: the bias decides the order between experts (or groups) of different bias
            // outright, with gaps far above float rounding; scores decide within equal bias. Group-limited
            // configurations get one bias per group, so group scores never nearly tie.
            int units = c.groupLimited() ? c.nGroup() : E, size = E / units;
            List<Integer> perm = new ArrayList<>();
            for (int u = 0; u < units; u++) perm.add(u);
            Collections.shuffle(perm, rnd);
            bias = new float[E];
            for (int e = 0; e < E; e++) bias[e] = 3 * (c.groupLimited() ? perm.get(e / size) : perm.get(e / size) % 7);
        }
        float[] scores = new float[T * E], weights = new float[T * k];
        int[] ids = new int[T * k], counts = new int[E];
        Gating.forward(c, logits, T, E, bias, scores, weights, ids, counts);

        try (DeviceBuffer dl = upload(dev, logits); DeviceBuffer db = bias == null ? null : upload(dev, bias);
             DeviceBuffer ds = poisoned32(dev, (long) T * E); DeviceBuffer dw = poisoned32(dev, (long) T * k);
             DeviceBuffer di = poisoned32(dev, (long) T * k); DeviceBuffer dc = poisoned32(dev, E)) {
            CudaGating.forward(c, dl, T, E, db, ds, dw, di, dc, v);
            assertSameInts(what + " ids", ids, di.readInts(T * k));
            assertSameInts(what + " counts", counts, dc.readInts(E));
            if (v == KernelVersion.V3) assertRelative(what + " weights", weights, dw.readFloats(T * k), V3_WEIGHT_TOL);
            else assertClose(what + " weights", weights, dw.readFloats(T * k), GATING_TOL);
            assertClose(what + " scores", scores, ds.readFloats(T * E), GATING_TOL);

            // backward from the same scores and ids (backward has versions 1 and 2)
            float[] dWeights = gaussian(rnd, T * k), dLogits = new float[T * E];
            Gating.backward(c, scores, T, E, ids, dWeights, dLogits);
            try (DeviceBuffer dg = upload(dev, dWeights); DeviceBuffer dout = poisoned32(dev, (long) T * E)) {
                CudaGating.backward(c, ds, T, E, di, dg, dout, v == KernelVersion.V3 ? KernelVersion.AUTO : v);
                assertCloseToScale(what + " dLogits", widen(dLogits), dout.readFloats(T * E), 1e-5, 1e-30);
            }
        }
    }

    @Test
    void scoresMayBeLeftOut() {
        CudaDevice dev = device();
        Random rnd = new Random(3);
        GatingConfig c = GatingConfig.deepseekV3(8, 8, 4, true, 2.5f);
        int T = 100, E = 256;
        float[] logits = latticeLogits(rnd, T, E), weights = new float[T * 8];
        int[] ids = new int[T * 8], counts = new int[E];
        Gating.forward(c, logits, T, E, null, null, weights, ids, counts);
        for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.V2, KernelVersion.V3}) {
            try (DeviceBuffer dl = upload(dev, logits); DeviceBuffer dw = poisoned32(dev, T * 8L);
                 DeviceBuffer di = poisoned32(dev, T * 8L); DeviceBuffer dc = poisoned32(dev, E)) {
                CudaGating.forward(c, dl, T, E, null, null, dw, di, dc, v);
                assertSameInts("ids " + v, ids, di.readInts(T * 8));
                assertSameInts("counts " + v, counts, dc.readInts(E));
                assertClose("weights " + v, weights, dw.readFloats(T * 8), GATING_TOL);
            }
        }
    }

    @Test
    void tiesGoToTheLowerExpertAndTheLowerGroup() {
        CudaDevice dev = device();
        int T = 5, E = 64;
        float[] logits = new float[T * E];                 // all equal: every score ties
        for (GatingConfig c : List.of(GatingConfig.softmaxTopK(8, true), GatingConfig.deepseekV3(8, 8, 4, true, 1f))) {
            for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.V2, KernelVersion.V3}) {
                try (DeviceBuffer dl = upload(dev, logits); DeviceBuffer dw = poisoned32(dev, T * 8L);
                     DeviceBuffer di = poisoned32(dev, T * 8L); DeviceBuffer dc = poisoned32(dev, E)) {
                    CudaGating.forward(c, dl, T, E, null, null, dw, di, dc, v);
                    int[] got = di.readInts(T * 8);
                    for (int t = 0; t < T; t++) {
                        for (int j = 0; j < 8; j++) assertTrue(got[t * 8 + j] == j, c + " " + v + ": token " + t + " slot " + j + " chose " + got[t * 8 + j]);
                    }
                }
            }
        }
    }

    @Test
    void partialTiesWithinAndAcrossLanesFollowTheCpu() {
        // logits from four values: equal logits give equal scores on both sides, different ones are far
        // apart, so the CPU's order (ties to the lower id) is the only right answer; with 4-wide vectors
        // tied experts sit in one lane as well as in different lanes
        CudaDevice dev = device();
        Random rnd = new Random(19);
        float[] values = {0f, 0.5f, 1f, -1f};
        List<GatingConfig> cs = List.of(GatingConfig.softmaxTopK(8, true),
                new GatingConfig(ScoreFunction.SIGMOID, 6, 1, 1, GroupScore.SUM_TOP2, 0f, true, 0f, 1f, true),
                new GatingConfig(ScoreFunction.SOFTMAX, 8, 4, 2, GroupScore.MAX, Float.NEGATIVE_INFINITY, false, 0f, 1f, true));
        for (GatingConfig c : cs) {
            for (int E : new int[] {33, 64, 100, 128, 256}) {
                if (!isValid(c, E)) continue;
                int T = 257, k = c.k();
                float[] logits = new float[T * E];
                for (int i = 0; i < logits.length; i++) logits[i] = values[rnd.nextInt(values.length)];
                float[] weights = new float[T * k];
                int[] ids = new int[T * k], counts = new int[E];
                Gating.forward(c, logits, T, E, null, null, weights, ids, counts);
                for (KernelVersion v : VERSIONS) {
                    try (DeviceBuffer dl = upload(dev, logits); DeviceBuffer dw = poisoned32(dev, (long) T * k);
                         DeviceBuffer di = poisoned32(dev, (long) T * k); DeviceBuffer dc = poisoned32(dev, E)) {
                        CudaGating.forward(c, dl, T, E, null, null, dw, di, dc, v);
                        String what = c + " E=" + E + " " + v;
                        assertSameInts(what + " ids", ids, di.readInts(T * k));
                        assertSameInts(what + " counts", counts, dc.readInts(E));
                        assertClose(what + " weights", weights, dw.readFloats(T * k), GATING_TOL);
                    }
                }
            }
        }
    }

    @Test
    void aNanLogitIsReportedWithItsToken() {
        CudaDevice dev = device();
        int T = 20, E = 16;
        float[] logits = latticeLogits(new Random(5), T, E);
        logits[7 * E + 3] = Float.NaN;
        logits[12 * E] = Float.NaN;
        for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.V2, KernelVersion.V3}) {
            try (DeviceBuffer dl = upload(dev, logits); DeviceBuffer dw = poisoned32(dev, T * 2L);
                 DeviceBuffer di = poisoned32(dev, T * 2L); DeviceBuffer dc = poisoned32(dev, E)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> CudaGating.forward(GatingConfig.mixtral(2), dl, T, E, null, null, dw, di, dc, v));
                assertTrue(e.getMessage().contains("token 7"), e.getMessage());
            }
        }
    }
}
