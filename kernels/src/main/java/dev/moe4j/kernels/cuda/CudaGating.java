package dev.moe4j.kernels.cuda;

import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cpu.moe.GroupScore;
import dev.moe4j.kernels.cpu.moe.ScoreFunction;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Launchers of {@code cuda-src/gating.cu}: token-choice gating on the device, the same function as the
 * CPU's {@link dev.moe4j.kernels.cpu.moe.Gating} (see {@link dev.moe4j.kernels.cpu.moe.GatingReference}
 * for the algorithm), and its backward.
 *
 * <h2>Shapes (device buffers, row-major)</h2>
 * <pre>
 *   logits   [T, E] float      bias [E] float or null
 *   scores   [T, E] float out (null: not kept)
 *   weights  [T, k] float out  ids [T, k] int out  counts [E] int out
 *   dWeights [T, k] float      dLogits [T, E] float out
 * </pre>
 * Forward versions: 3 (one warp per token, vector loads, warp reductions, the expert histogram in the
 * same launch) and 2 (one warp per token, a memset of the counts and a separate fill before the kernel)
 * run when E &lt;= 512, k &lt;= 32 and nGroup &lt;= 32, and {@link KernelVersion#AUTO} picks 3 there;
 * version 1 (one thread per token) runs otherwise. Backward has versions 1 and 2 (AUTO: 2 where it
 * runs). With {@link GatingConfig#rejectNaN()} the kernel flags the first token with a NaN logit and
 * the launcher, after waiting for the device, throws {@link IllegalArgumentException} naming it (the
 * outputs are then undefined); without it no synchronisation happens, and v3 enqueues exactly one
 * kernel and nothing else. The bias is not checked for finiteness on the device.
 *
 * <p>Version 3 keeps, per device, a workspace of {@value LaunchGeometry#GATING_V3_WORKSPACE_INTS}
 * ints (a ticket and the histogram accumulator), zeroed once when first used; each launch leaves it
 * zero again. It relies on the device running all work on its one stream, so two launches never
 * overlap.
 */
public final class CudaGating {
    private CudaGating() {}

    private static final String MODULE = "gating";

    /** Per device: the v3 workspace (ticket and histogram accumulator, zero between launches). */
    private static final ConcurrentHashMap<CudaDevice, DeviceBuffer> WORKSPACES = new ConcurrentHashMap<>();

    /** The v3 workspace of {@code dev}, allocated and zeroed (on the stream) on first use. */
    private static DeviceBuffer workspace(CudaDevice dev) {
        return WORKSPACES.computeIfAbsent(dev, d -> {
            DeviceBuffer b = d.allocate(4L * LaunchGeometry.GATING_V3_WORKSPACE_INTS);
            b.zero();
            return b;
        });
    }

    /** Forward gating with the fastest version that supports the configuration. */
    public static void forward(GatingConfig config, DeviceBuffer logits, int numTokens, int numExperts, DeviceBuffer bias,
                               DeviceBuffer scores, DeviceBuffer weights, DeviceBuffer ids, DeviceBuffer counts) {
        forward(config, logits, numTokens, numExperts, bias, scores, weights, ids, counts, KernelVersion.AUTO);
    }

    /**
     * Forward gating with a chosen version ({@link KernelVersion#V1}, {@link KernelVersion#V2} or
     * {@link KernelVersion#V3}).
     *
     * @throws IllegalArgumentException for an invalid configuration, short buffers, buffers on different
     *         devices, a version that cannot run this configuration, or (after the fact) a NaN logit
     */
    public static void forward(GatingConfig config, DeviceBuffer logits, int numTokens, int numExperts, DeviceBuffer bias,
                               DeviceBuffer scores, DeviceBuffer weights, DeviceBuffer ids, DeviceBuffer counts,
                               KernelVersion version) {
        int v = checkForward(config, numTokens, numExperts, logits, bias, scores, weights, ids, counts, version);
        CudaDevice dev = Checks.sameDevice(logits, bias, scores, weights, ids, counts);
        if (v == 3) {
            forwardV3(dev, config, logits, numTokens, numExperts, bias, scores, weights, ids, counts);
            return;
        }
        counts.slice(0, 4L * numExperts).zero();
        if (numTokens == 0) return;
        int k = config.k();
        try (DeviceBuffer nan = dev.allocate(4);
             DeviceBuffer scratch = v == 1 && scores == null ? dev.allocate(4L * numTokens * numExperts) : null) {
            nan.fill32(Integer.MAX_VALUE);
            DeviceBuffer s = scratch != null ? scratch : scores;
            Object[] args = {logits, bias, s, weights, ids, counts, nan, numTokens, numExperts, k,
                    config.scoreFunction() == ScoreFunction.SOFTMAX ? 1 : 0, config.nGroup(), config.topkGroup(),
                    config.groupScore() == GroupScore.MAX ? 1 : 0, config.maskedScore(), config.renormalize() ? 1 : 0,
                    config.renormEps(), config.scale(), config.rejectNaN() ? 1 : 0};
            if (v == 1) {
                dev.launch(MODULE, "moe_gating_forward_v1", LaunchGeometry.gatingV1(numTokens), 0, args);
            } else {
                int epl = LaunchGeometry.gatingExpertsPerLane(numExperts, k, config.nGroup());
                dev.launch(MODULE, "moe_gating_forward_v2_e" + epl, LaunchGeometry.gatingV2(numTokens),
                        LaunchGeometry.gatingSharedBytes(numExperts), args);
            }
            if (config.rejectNaN()) {
                int t = nan.readInts(1)[0];
                if (t != Integer.MAX_VALUE) throw new IllegalArgumentException("router logit is NaN at token " + t + " (found on " + dev + ")");
            }
        }
    }

    /** Version 3: one launch that also writes the counts (a memset of the counts only when T = 0). */
    private static void forwardV3(CudaDevice dev, GatingConfig config, DeviceBuffer logits, int numTokens, int numExperts,
                                  DeviceBuffer bias, DeviceBuffer scores, DeviceBuffer weights, DeviceBuffer ids, DeviceBuffer counts) {
        if (numTokens == 0) {
            counts.slice(0, 4L * numExperts).zero();
            return;
        }
        int k = config.k(), epl = LaunchGeometry.gatingExpertsPerLane(numExperts, k, config.nGroup());
        int vec = LaunchGeometry.gatingV3Vector(numExperts, epl, rowsAligned(logits, scores, 16), rowsAligned(logits, scores, 8));
        int flags = (config.scoreFunction() == ScoreFunction.SOFTMAX ? 1 : 0) | (config.groupScore() == GroupScore.MAX ? 2 : 0)
                | (config.renormalize() ? 4 : 0) | (config.rejectNaN() ? 8 : 0);
        DeviceBuffer nan = config.rejectNaN() ? dev.allocate(4) : null;
        try {
            if (nan != null) nan.fill32(Integer.MAX_VALUE);
            dev.launch(MODULE, V3_KERNELS[Integer.numberOfTrailingZeros(epl)][Integer.numberOfTrailingZeros(vec)],
                    LaunchGeometry.gatingV3(numTokens, dev.info().multiprocessors()), LaunchGeometry.gatingSharedBytes(numExperts),
                    (Object) v3Args(logits, bias, scores, weights, ids, counts, workspace(dev), nan, numTokens, numExperts, k, flags,
                            config.nGroup(), config.topkGroup(), config.maskedScore(), config.renormEps(), config.scale()));
            if (nan != null) {
                int t = nan.readInts(1)[0];
                if (t != Integer.MAX_VALUE) throw new IllegalArgumentException("router logit is NaN at token " + t + " (found on " + dev + ")");
            }
        } finally {
            if (nan != null) nan.close();
        }
    }

    /**
     * The v3 kernel's argument struct ({@code GatingV3Args} in gating.cu) as 26 ints: eight 64-bit
     * device addresses (0 for null), six ints, three floats (their bits) and one int of padding.
     */
    static int[] v3Args(DeviceBuffer logits, DeviceBuffer bias, DeviceBuffer scores, DeviceBuffer weights, DeviceBuffer ids,
                        DeviceBuffer counts, DeviceBuffer workspace, DeviceBuffer nan, int T, int E, int k, int flags, int nGroup,
                        int topkGroup, float maskedScore, float eps, float scale) {
        int[] a = new int[26];
        DeviceBuffer[] pointers = {logits, bias, scores, weights, ids, counts, workspace, nan};
        for (int i = 0; i < pointers.length; i++) {
            long address = pointers[i] == null ? 0 : pointers[i].address();
            a[2 * i] = (int) address;                    // little-endian: low word first
            a[2 * i + 1] = (int) (address >>> 32);
        }
        int[] rest = {T, E, k, flags, nGroup, topkGroup, Float.floatToRawIntBits(maskedScore), Float.floatToRawIntBits(eps),
                Float.floatToRawIntBits(scale), 0};
        System.arraycopy(rest, 0, a, 16, rest.length);
        return a;
    }

    /** v3 kernel names by log2(experts per lane) and log2(vector width) (null: no such kernel). */
    private static final String[][] V3_KERNELS = new String[5][3];

    static {
        for (int e = 0; e < 5; e++) {
            for (int w = 0; w < 3 && (1 << w) <= (1 << e); w++) V3_KERNELS[e][w] = "moe_gating_forward_v3_e" + (1 << e) + "_v" + (1 << w);
        }
    }

    /** Whether the logits and (when kept) the scores start at a multiple of {@code bytes}. */
    private static boolean rowsAligned(DeviceBuffer logits, DeviceBuffer scores, int bytes) {
        return logits.isAligned(bytes) && (scores == null || scores.isAligned(bytes));
    }

    /** Backward gating with the fastest version that supports the configuration. */
    public static void backward(GatingConfig config, DeviceBuffer scores, int numTokens, int numExperts, DeviceBuffer ids,
                                DeviceBuffer dWeights, DeviceBuffer dLogits) {
        backward(config, scores, numTokens, numExperts, ids, dWeights, dLogits, KernelVersion.AUTO);
    }

    /**
     * Backward gating: {@code dLogits} [T, E] from {@code dWeights} [T, k], the forward's scores and ids.
     * Expert ids are trusted (they come from the forward kernel).
     *
     * @throws IllegalArgumentException for an invalid configuration, short buffers or a version that cannot run it
     */
    public static void backward(GatingConfig config, DeviceBuffer scores, int numTokens, int numExperts, DeviceBuffer ids,
                                DeviceBuffer dWeights, DeviceBuffer dLogits, KernelVersion version) {
        int v = checkBackward(config, numTokens, numExperts, scores, ids, dWeights, dLogits, version);
        CudaDevice dev = Checks.sameDevice(scores, ids, dWeights, dLogits);
        if (numTokens == 0) return;
        Object[] args = {scores, ids, dWeights, dLogits, numTokens, numExperts, config.k(),
                config.scoreFunction() == ScoreFunction.SOFTMAX ? 1 : 0, config.renormalize() ? 1 : 0,
                config.renormEps(), config.scale()};
        if (v == 1) {
            dev.launch(MODULE, "moe_gating_backward_v1", LaunchGeometry.gatingV1(numTokens), 0, args);
        } else {
            int epl = LaunchGeometry.gatingExpertsPerLane(numExperts, config.k(), 1);
            dev.launch(MODULE, "moe_gating_backward_v2_e" + epl, LaunchGeometry.gatingV2(numTokens), 0, args);
        }
    }

    /**
     * Checks a forward call without touching the device; returns the version that will run (1, 2 or 3).
     *
     * @throws IllegalArgumentException naming the bad value
     */
    static int checkForward(GatingConfig config, int numTokens, int numExperts, DeviceBuffer logits, DeviceBuffer bias,
                            DeviceBuffer scores, DeviceBuffer weights, DeviceBuffer ids, DeviceBuffer counts,
                            KernelVersion version) {
        if (config == null) throw new IllegalArgumentException("config is null");
        config.validate(numExperts);
        Checks.nonNegative("number of tokens T", numTokens);
        long te = (long) numTokens * numExperts, tk = (long) numTokens * config.k();
        Checks.toInt("T * E", te);
        String teShape = "[T, E] = [" + numTokens + ", " + numExperts + "]", tkShape = "[T, k] = [" + numTokens + ", " + config.k() + "]";
        Checks.buffer("logits", logits, te, 4, teShape);
        Checks.optional("bias", bias, numExperts, 4, "[E] = [" + numExperts + "]");
        Checks.optional("scores", scores, te, 4, teShape);
        Checks.buffer("weights", weights, tk, 4, tkShape);
        Checks.buffer("ids", ids, tk, 4, tkShape);
        Checks.buffer("counts", counts, numExperts, 4, "[E] = [" + numExperts + "]");
        return pickForward(numExperts, config.k(), config.nGroup(), version);
    }

    static int checkBackward(GatingConfig config, int numTokens, int numExperts, DeviceBuffer scores, DeviceBuffer ids,
                             DeviceBuffer dWeights, DeviceBuffer dLogits, KernelVersion version) {
        if (config == null) throw new IllegalArgumentException("config is null");
        config.validate(numExperts);
        Checks.nonNegative("number of tokens T", numTokens);
        long te = (long) numTokens * numExperts, tk = (long) numTokens * config.k();
        Checks.toInt("T * E", te);
        String teShape = "[T, E] = [" + numTokens + ", " + numExperts + "]", tkShape = "[T, k] = [" + numTokens + ", " + config.k() + "]";
        Checks.buffer("scores", scores, te, 4, teShape);
        Checks.buffer("ids", ids, tk, 4, tkShape);
        Checks.buffer("dWeights", dWeights, tk, 4, tkShape);
        Checks.buffer("dLogits", dLogits, te, 4, teShape);
        boolean warp = LaunchGeometry.gatingExpertsPerLane(numExperts, config.k(), 1) > 0;
        return switch (version) {
            case AUTO -> warp ? 2 : 1;
            case V1 -> 1;
            case V2 -> requireWarpKernel(warp, 2, numExperts, config.k(), 1);
            case V3, V4 -> throw new IllegalArgumentException("gating backward has versions 1 and 2, not " + version.name().substring(1));
        };
    }

    /** Forward: 3 when the warp-per-token kernels support (E, k, nGroup) and AUTO is asked, else as asked. */
    static int pickForward(int numExperts, int k, int nGroup, KernelVersion version) {
        boolean warp = LaunchGeometry.gatingExpertsPerLane(numExperts, k, nGroup) > 0;
        return switch (version) {
            case AUTO -> warp ? 3 : 1;
            case V1 -> 1;
            case V2 -> requireWarpKernel(warp, 2, numExperts, k, nGroup);
            case V3 -> requireWarpKernel(warp, 3, numExperts, k, nGroup);
            case V4 -> throw new IllegalArgumentException("gating has versions 1 to 3, not 4");
        };
    }

    private static int requireWarpKernel(boolean supported, int v, int numExperts, int k, int nGroup) {
        if (!supported) throw new IllegalArgumentException("gating v" + v + " needs E <= 512, k <= 32 and nGroup <= 32, got E = "
                + numExperts + ", k = " + k + ", nGroup = " + nGroup);
        return v;
    }
}
