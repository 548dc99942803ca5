/**
 * Experts: the routed experts stored fused per layer as in Hugging Face transformers 5
 * ({@link dev.moe4j.moe.experts.GroupedExperts}: gate_up_proj [E, 2f, d], down_proj [E, d, f]) and the
 * always-on shared experts ({@link dev.moe4j.moe.experts.SharedExpert}).
 */
package dev.moe4j.moe.experts;
