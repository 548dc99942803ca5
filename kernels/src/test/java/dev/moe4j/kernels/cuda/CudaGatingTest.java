package dev.moe4j.kernels.cuda;

import static dev.moe4j.kernels.cuda.GpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * Device gating (both versions) against the CPU's {@link Gating}: same expert ids and counts, weights
 * and scores to float precision, backward to float precision. Logits are a shuffled lattice per token,
 * so the scores are well apart and float rounding cannot reorder them; ties are tested on their own.
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

    @Test
    void forwardMatchesTheCpuForEveryConfigurationVersionAndSize() {
        CudaDevice dev = device();
        Random rnd = new Random(42);
        int[] experts = {8, 16, 64, 160, 256, 600};
        for (GatingConfig c : configs()) {
            for (int E : experts) {
                if (!isValid(c, E)) continue;
                for (int T : new int[] {0, 1, 37, 1000}) {
                    for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.AUTO}) {
                        boolean withBias = rnd.nextBoolean();
                        check(dev, rnd, c, T, E, withBias, v);
                    }
                }
            }
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
            assertClose(what + " weights", weights, dw.readFloats(T * k), GATING_TOL);
            assertClose(what + " scores", scores, ds.readFloats(T * E), GATING_TOL);

            // backward from the same scores and ids
            float[] dWeights = gaussian(rnd, T * k), dLogits = new float[T * E];
            Gating.backward(c, scores, T, E, ids, dWeights, dLogits);
            try (DeviceBuffer dg = upload(dev, dWeights); DeviceBuffer dout = poisoned32(dev, (long) T * E)) {
                CudaGating.backward(c, ds, T, E, di, dg, dout, v);
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
        for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.V2}) {
            try (DeviceBuffer dl = upload(dev, logits); DeviceBuffer dw = poisoned32(dev, T * 8L);
                 DeviceBuffer di = poisoned32(dev, T * 8L); DeviceBuffer dc = poisoned32(dev, E)) {
                CudaGating.forward(c, dl, T, E, null, null, dw, di, dc, v);
                assertSameInts("ids " + v, ids, di.readInts(T * 8));
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
            for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.V2}) {
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
    void aNanLogitIsReportedWithItsToken() {
        CudaDevice dev = device();
        int T = 20, E = 16;
        float[] logits = latticeLogits(new Random(5), T, E);
        logits[7 * E + 3] = Float.NaN;
        logits[12 * E] = Float.NaN;
        for (KernelVersion v : new KernelVersion[] {KernelVersion.V1, KernelVersion.V2}) {
            try (DeviceBuffer dl = upload(dev, logits); DeviceBuffer dw = poisoned32(dev, T * 2L);
                 DeviceBuffer di = poisoned32(dev, T * 2L); DeviceBuffer dc = poisoned32(dev, E)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> CudaGating.forward(GatingConfig.mixtral(2), dl, T, E, null, null, dw, di, dc, v));
                assertTrue(e.getMessage().contains("token 7"), e.getMessage());
            }
        }
    }
}
