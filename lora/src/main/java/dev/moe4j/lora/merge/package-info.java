/**
 * Combining low-rank and dense experts: merging several LoRA updates into one
 * ({@link dev.moe4j.lora.merge.LoraMerge}: linear averaging, concatenation, factor averaging,
 * TIES), the low-rank update they exchange ({@link dev.moe4j.lora.merge.LowRankUpdate}), and
 * upcycling dense layers into MoE layers and merging them back
 * ({@link dev.moe4j.lora.merge.Upcycling}, {@link dev.moe4j.lora.merge.UpcycledLinearMoe}).
 */
package dev.moe4j.lora.merge;
