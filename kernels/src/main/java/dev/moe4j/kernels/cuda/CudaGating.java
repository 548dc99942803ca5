package dev.moe4j.kernels.cuda;

import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cpu.moe.GroupScore;
import dev.moe4j.kernels.cpu.moe.ScoreFunction;

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
 * Version 2 (one warp per token) runs when E &lt;= 512, k &lt;= 32 and nGroup &lt;= 32; version 1 (one
 * thread per token) otherwise. With {@link GatingConfig#rejectNaN()} the kernel flags the first token
 * with a NaN logit and the launcher, after waiting for the device, throws
 * {@link IllegalArgumentException} naming it (the outputs are then undefined); without it no
 * synchronisation happens. The bias is not checked for finiteness on the device.
 */
public final class CudaGating {
    private CudaGating() {}

    private static final String MODULE = "gating";

    /** Forward gating with the fastest version that supports the configuration. */
    public static void forward(GatingConfig config, DeviceBuffer logits, int numTokens, int numExperts, DeviceBuffer bias,
                               DeviceBuffer scores, DeviceBuffer weights, DeviceBuffer ids, DeviceBuffer counts) {
        forward(config, logits, numTokens, numExperts, bias, scores, weights, ids, counts, KernelVersion.AUTO);
    }

    /**
     * Forward gating with a chosen version ({@link KernelVersion#V1} or {@link KernelVersion#V2}).
     *
     * @throws IllegalArgumentException for an invalid configuration, short buffers, buffers on different
     *         devices, a version that cannot run this configuration, or (after the fact) a NaN logit
     */
    public static void forward(GatingConfig config, DeviceBuffer logits, int numTokens, int numExperts, DeviceBuffer bias,
                               DeviceBuffer scores, DeviceBuffer weights, DeviceBuffer ids, DeviceBuffer counts,
                               KernelVersion version) {
        int v = checkForward(config, numTokens, numExperts, logits, bias, scores, weights, ids, counts, version);
        CudaDevice dev = Checks.sameDevice(logits, bias, scores, weights, ids, counts);
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
     * Checks a forward call without touching the device; returns the version that will run (1 or 2).
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
        return pickVersion(numExperts, config.k(), config.nGroup(), version);
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
        return pickVersion(numExperts, config.k(), 1, version);
    }

    /** 2 when the warp-per-token kernel supports (E, k, nGroup) and is not ruled out, else 1. */
    static int pickVersion(int numExperts, int k, int nGroup, KernelVersion version) {
        boolean v2 = LaunchGeometry.gatingExpertsPerLane(numExperts, k, nGroup) > 0;
        return switch (version) {
            case AUTO -> v2 ? 2 : 1;
            case V1 -> 1;
            case V2 -> {
                if (!v2) throw new IllegalArgumentException("gating v2 needs E <= 512, k <= 32 and nGroup <= 32, got E = "
                        + numExperts + ", k = " + k + ", nGroup = " + nGroup);
                yield 2;
            }
            case V3, V4 -> throw new IllegalArgumentException("gating has versions 1 and 2, not " + version.name().substring(1));
        };
    }
}
