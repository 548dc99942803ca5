/**
 * MoE layers beyond a router in front of uniform experts, each built from the shared pieces (routers,
 * permute, grouped linear, combine): heterogeneous expert sizes with a parameter penalty (HMoE,
 * {@link dev.moe4j.moe.methods.HeterogeneousMoeLayer}), router-free expert self-selection by activation
 * norm (Autonomy-of-Experts, {@link dev.moe4j.moe.methods.AutonomyOfExpertsLayer}), and several routing
 * iterations inside one layer (Chain-of-Experts, {@link dev.moe4j.moe.methods.ChainOfExperts});
 * {@link dev.moe4j.moe.methods.Dispatch} is the permute-experts-combine step they share.
 */
package dev.moe4j.moe.methods;
