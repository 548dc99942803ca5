/**
 * Load balancing: the Switch auxiliary loss, the ST-MoE router z-loss and DeepSeek-V3's sequence-wise
 * loss ({@link dev.moe4j.moe.balance.BalanceLosses}), and the auxiliary-loss-free bias update
 * ({@link dev.moe4j.moe.balance.LossFreeBalancer}); {@link dev.moe4j.moe.balance.Balancing} says which an
 * {@link dev.moe4j.moe.MoeLayer} applies.
 */
package dev.moe4j.moe.balance;
