/**
 * Routers: each turns token activations [T, d] into a {@link dev.moe4j.moe.Routing} (expert ids, gate
 * weights and the routing plan), and names its paper: softmax top-k (Mixtral, Qwen2-MoE), DeepSeek-V3,
 * Switch top-1 with capacity, noisy top-k, expert choice, hash routing, dynamic top-p and null experts
 * (AdaMoE). {@link dev.moe4j.moe.routing.Capacity} and {@link dev.moe4j.moe.routing.Plans} build the
 * plans with capacity per group of tokens.
 */
package dev.moe4j.moe.routing;
