package dev.moe4j.moe.balance;

import dev.moe4j.autograd.F;
import dev.moe4j.moe.ops.LoadBalancingLoss;
import dev.moe4j.moe.ops.RouterZLoss;
import dev.moe4j.moe.ops.SequenceBalanceLoss;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The balance and stability losses of MoE routers, as differentiable scalars to add (with a
 * coefficient) to a training loss.
 *
 * <ul>
 *   <li>{@link #switchLoadBalancing}: Switch Transformers' auxiliary loss, E^2 * mean(f * P) per group
 *       (Hugging Face {@code load_balancing_loss_func});</li>
 *   <li>{@link #zLoss}: ST-MoE's router z-loss, mean of logsumexp(logits)^2 (Hugging Face
 *       {@code router_z_loss_func});</li>
 *   <li>{@link #sequenceBalance}: DeepSeek-V3's complementary sequence-wise auxiliary loss
 *       sum_i f_i P_i per sequence, on normalised affinity scores.</li>
 * </ul>
 * The auxiliary-loss-free alternative, a selection bias updated outside the gradient, is
 * {@link LossFreeBalancer}.
 */
public final class BalanceLosses {
    private BalanceLosses() {}

    /**
     * Switch load-balancing loss on router probabilities.
     *
     * @param probs     [G, S, E] (or [S, E]) router probabilities, part of the graph
     * @param expertIds [G * S * k] chosen experts per token (-1 for an unused slot)
     * @param k         experts per token
     * @return a 0-dim tensor
     */
    public static Tensor switchLoadBalancing(Tensor probs, int[] expertIds, int k) {
        return new LoadBalancingLoss(expertIds, k).apply(probs);
    }

    /**
     * Switch load-balancing loss from router logits: softmax over the last dim, then
     * {@link #switchLoadBalancing}, as {@code load_balancing_loss_func(softmax(logits), ids)}.
     *
     * @param logits    [G, S, E] (or [S, E])
     * @param expertIds [G * S * k]
     * @param k         experts per token
     */
    public static Tensor switchLoadBalancingFromLogits(Tensor logits, int[] expertIds, int k) {
        return switchLoadBalancing(F.softmax(logits, -1), expertIds, k);
    }

    /**
     * Router z-loss.
     *
     * @param logits [..., E] router logits
     * @return a 0-dim tensor
     */
    public static Tensor zLoss(Tensor logits) {
        return new RouterZLoss().apply(logits);
    }

    /**
     * DeepSeek-V3 sequence-wise balance loss (without its factor alpha).
     *
     * @param scores    [B, S, E] (or [S, E]) affinity scores (sigmoid of the logits), part of the graph
     * @param expertIds [B * S * k] top-k experts per token (-1 for an unused slot)
     * @param k         experts per token
     * @return a 0-dim tensor
     */
    public static Tensor sequenceBalance(Tensor scores, int[] expertIds, int k) {
        if (scores.rank() < 2) throw new IllegalArgumentException("sequence balance loss: scores must be [B, S, E], got " + Shape.str(scores.shape()));
        return new SequenceBalanceLoss(expertIds, k).apply(scores);
    }
}
