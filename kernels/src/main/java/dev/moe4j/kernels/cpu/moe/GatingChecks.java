package dev.moe4j.kernels.cpu.moe;

/** Argument checks shared by {@link GatingReference} and {@link Gating}, run before any output is written. */
final class GatingChecks {
    private GatingChecks() {}

    /** Checks sizes for a forward call; {@code biasLength} is -1 when there is no bias. */
    static void forward(GatingConfig config, int numTokens, int numExperts, int logitsLength, int biasLength,
                        int scoresLength, int weightsLength, int idsLength, int countsLength) {
        if (config == null) throw new IllegalArgumentException("config is null");
        config.validate(numExperts);
        if (numTokens < 0) throw new IllegalArgumentException("number of tokens T must be >= 0, got " + numTokens);
        long te = (long) numTokens * numExperts, tk = (long) numTokens * config.k();
        if (te > Integer.MAX_VALUE) throw new IllegalArgumentException("T * E = " + numTokens + " * " + numExperts + " exceeds an array");
        require("logits", logitsLength, te, "[T, E] = [" + numTokens + ", " + numExperts + "]");
        if (biasLength >= 0) require("bias", biasLength, numExperts, "[E] = [" + numExperts + "]");
        require("scores", scoresLength, te, "[T, E] = [" + numTokens + ", " + numExperts + "]");
        require("weights", weightsLength, tk, "[T, k] = [" + numTokens + ", " + config.k() + "]");
        require("ids", idsLength, tk, "[T, k] = [" + numTokens + ", " + config.k() + "]");
        require("counts", countsLength, numExperts, "[E] = [" + numExperts + "]");
    }

    /** Checks sizes and expert ids for a backward call. */
    static void backward(GatingConfig config, int numTokens, int numExperts, int scoresLength, int[] ids,
                         int dWeightsLength, int dLogitsLength) {
        if (config == null) throw new IllegalArgumentException("config is null");
        config.validate(numExperts);
        if (numTokens < 0) throw new IllegalArgumentException("number of tokens T must be >= 0, got " + numTokens);
        long te = (long) numTokens * numExperts, tk = (long) numTokens * config.k();
        if (te > Integer.MAX_VALUE) throw new IllegalArgumentException("T * E = " + numTokens + " * " + numExperts + " exceeds an array");
        require("scores", scoresLength, te, "[T, E] = [" + numTokens + ", " + numExperts + "]");
        require("ids", ids.length, tk, "[T, k] = [" + numTokens + ", " + config.k() + "]");
        require("dWeights", dWeightsLength, tk, "[T, k] = [" + numTokens + ", " + config.k() + "]");
        require("dLogits", dLogitsLength, te, "[T, E] = [" + numTokens + ", " + numExperts + "]");
        int k = config.k();
        for (int i = 0; i < numTokens * k; i++) {
            if (ids[i] < 0 || ids[i] >= numExperts) {
                throw new IndexOutOfBoundsException("expert id " + ids[i] + " at token " + i / k + ", slot " + i % k
                        + " is outside [0, " + numExperts + ")");
            }
        }
    }

    static void require(String name, int length, long needed, String shape) {
        if (length < needed) {
            throw new IllegalArgumentException(name + " has " + length + " elements, shape " + shape + " needs " + needed);
        }
    }

    static void finiteBias(double b, int expert) {
        if (!Double.isFinite(b)) throw new IllegalArgumentException("selection bias of expert " + expert + " is " + b + ", must be finite");
    }

    static IllegalArgumentException nanLogit(int token, int expert) {
        return new IllegalArgumentException("router logit is NaN at token " + token + ", expert " + expert);
    }
}
