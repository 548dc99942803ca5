/**
 * Mixture-of-Experts CPU kernels on raw float arrays: token-choice gating ({@link dev.moe4j.kernels.cpu.moe.Gating},
 * specified by {@link dev.moe4j.kernels.cpu.moe.GatingReference}), the routing plan
 * ({@link dev.moe4j.kernels.cpu.moe.RoutingPlan}: tokens sorted by expert, with capacity and dropping), and the
 * data movement around the expert computation: {@link dev.moe4j.kernels.cpu.moe.Permute} (token rows into
 * expert order) and {@link dev.moe4j.kernels.cpu.moe.Combine} (weighted sum back into token order), each with
 * its backward.
 *
 * <p>One MoE layer forward on T tokens of width d with E experts and top-k:
 * <pre>
 *   logits [T, E] = x [T, d] @ Wr^T                       (dense GEMM, elsewhere)
 *   Gating.forward        -> weights [T, k], ids [T, k], counts [E]
 *   RoutingPlan.build     -> offsets [E + 1], rowToPair [R], pairToRow [T * k]
 *   Permute.permute       -> xPerm [R, d]
 *   expert FFNs           -> yPerm [R, d]                  (grouped GEMM over plan.offsets, elsewhere)
 *   Combine.combine       -> y [T, d]
 * </pre>
 * Every kernel has a scalar reference (the executable specification) beside its fast version.
 */
package dev.moe4j.kernels.cpu.moe;
