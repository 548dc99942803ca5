/**
 * See inside an MoE layer: one pass run stage by stage ({@link dev.moe4j.bench.insight.StagedPass}),
 * and each stage as a small object with a plain-text table for {@code toString}, for the
 * walkthrough command, a debugger or JShell.
 *
 * <pre>
 *   RouterView     logits [T, E'], scores, chosen experts and gate weights [T, k]
 *   PlanView       per-expert histogram and offsets, permutation table (row -&gt; token, slot), dropped pairs
 *   GemmProblems   the grouped GEMM problem list: rows and FLOPs per expert
 *   CombineView    each token's weighted sum of its expert rows
 *   BalanceView    balance losses, load statistics, selection bias and its next step
 *   BackwardView   the backward stage by stage: which gradient flows through which kernel
 *   StageTimes     wall-clock time per stage, forward and backward
 *   TokenTrace     one token through every stage
 * </pre>
 * {@link dev.moe4j.bench.insight.TextTable} and {@link dev.moe4j.bench.insight.Fmt} do the printing;
 * {@link dev.moe4j.bench.insight.RoutingStats} holds the summary numbers (imbalance, entropies).
 */
package dev.moe4j.bench.insight;
