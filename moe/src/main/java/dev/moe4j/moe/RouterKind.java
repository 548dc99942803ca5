package dev.moe4j.moe;

/** The routers an {@link MoeOptions} can build (each names its paper in its class). */
public enum RouterKind {
    /** Softmax top-k, renormalised or not ({@link dev.moe4j.moe.routing.SoftmaxTopKRouter}; Mixtral, Qwen2-MoE). */
    SOFTMAX_TOPK,
    /** Sigmoid, group-limited top-k, score-correction bias, routed scaling ({@link dev.moe4j.moe.routing.DeepSeekV3Router}). */
    DEEPSEEK_V3,
    /** Top-1 with capacity factor ({@link dev.moe4j.moe.routing.SwitchRouter}; Switch Transformers). */
    SWITCH,
    /** Noisy top-k, noise in training only ({@link dev.moe4j.moe.routing.NoisyTopKRouter}; Shazeer et al.). */
    NOISY_TOPK,
    /** Each expert takes its top-c tokens ({@link dev.moe4j.moe.routing.ExpertChoiceRouter}). */
    EXPERT_CHOICE,
    /** Token id hashed to an expert ({@link dev.moe4j.moe.routing.HashRouter}; Hash Layers). */
    HASH,
    /** Dynamic top-p ({@link dev.moe4j.moe.routing.TopPRouter}). */
    TOP_P,
    /** Top-k over real and null experts ({@link dev.moe4j.moe.routing.NullExpertRouter}; AdaMoE). */
    NULL_EXPERTS
}
