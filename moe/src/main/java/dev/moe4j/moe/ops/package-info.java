/**
 * The differentiable functions of an MoE layer, each an autograd {@link dev.moe4j.autograd.Function}
 * over the MoE kernels with its derivative in its Javadoc: {@link dev.moe4j.moe.ops.Gate} (logits to
 * top-k weights), {@link dev.moe4j.moe.ops.PermuteTokens}, {@link dev.moe4j.moe.ops.GroupedLinear}
 * (one linear map per expert over ragged row groups), {@link dev.moe4j.moe.ops.ExpertActivationFunction}
 * (GLU and plain activations), {@link dev.moe4j.moe.ops.CombineExperts}, and the balance losses
 * ({@link dev.moe4j.moe.ops.LoadBalancingLoss}, {@link dev.moe4j.moe.ops.RouterZLoss},
 * {@link dev.moe4j.moe.ops.SequenceBalanceLoss}). F32 runs the fast kernels, F64 the double paths
 * used by gradient checks.
 */
package dev.moe4j.moe.ops;
