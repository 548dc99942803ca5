/**
 * Analysis of trained MoE layers over a dataset: how often each expert is chosen
 * ({@link dev.moe4j.moe.analysis.ExpertUsage}) and task-specific pruning to the most used experts
 * ({@link dev.moe4j.moe.analysis.ExpertPruning}); the affinity between the experts of consecutive
 * layers ({@link dev.moe4j.moe.analysis.ExpertAffinity}) and a device placement that keeps
 * high-affinity experts together ({@link dev.moe4j.moe.analysis.ExpertPlacement}).
 */
package dev.moe4j.moe.analysis;
