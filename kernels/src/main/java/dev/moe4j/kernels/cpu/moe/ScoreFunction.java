package dev.moe4j.kernels.cpu.moe;

/**
 * How a router turns its logits {@code l[t, 0..E-1]} into per-expert scores {@code s[t, e]}.
 */
public enum ScoreFunction {
    /**
     * {@code s[t, e] = exp(l[t, e] - m) / sum_f exp(l[t, f] - m)}, with {@code m = max_f l[t, f]} for
     * range safety (Switch Transformers, Mixtral, Qwen2-MoE). Scores of one token sum to 1.
     */
    SOFTMAX,
    /**
     * {@code s[t, e] = 1 / (1 + exp(-l[t, e]))}, each expert scored on its own (DeepSeek-V3).
     */
    SIGMOID
}
