package dev.moe4j.moe.balance;

import dev.moe4j.autograd.F;
import dev.moe4j.moe.Routing;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The dynamic loss of top-p routing (Huang et al., "Harder Tasks Need More Experts: Dynamic Routing
 * in MoE Models"): the mean entropy of the router's distribution over experts. A router trained only
 * for the task could make every distribution flat, so that the threshold p is reached only after
 * many experts and every token pays for them; adding this loss (with a weight, beside the usual
 * load-balancing loss) makes the distributions peaked, and confident tokens then use few experts.
 * <pre>
 *   P = softmax(logits) [T, E]
 *   L = (1/T) sum_t ( - sum_e P[t, e] log P[t, e] )        0 for one-hot rows, log E for uniform rows
 * </pre>
 * Computed with log-softmax for stability; differentiable. For {@link dev.moe4j.moe.routing.TopPRouter}
 * (whose routing carries its logits) use {@link #of(Routing)}.
 *
 * <p>BF16 logits (on a CUDA device) are taken in F32; the loss is then F32.
 */
public final class RouterEntropyLoss {
    private RouterEntropyLoss() {}

    /**
     * Mean entropy of the softmax rows.
     *
     * @param logits [T, E] (or [..., E]: every leading index is a token)
     * @return a 0-dim tensor (0 for no tokens)
     * @throws IllegalArgumentException for a rank-0 input
     */
    public static Tensor entropy(Tensor logits) {
        if (logits.rank() < 1) throw new IllegalArgumentException("router entropy: logits must be [T, E], got " + Shape.str(logits.shape()));
        Tensor logP = F.logSoftmax(logits.dtype() == DType.BF16 ? F.to(logits, DType.F32) : logits, -1);
        Tensor perToken = F.neg(F.sum(F.mul(F.exp(logP), logP), -1, false));
        return perToken.numel() == 0 ? F.sum(perToken) : F.mean(perToken);
    }

    /**
     * The entropy loss of a routing's logits.
     *
     * @throws IllegalArgumentException when the router gave no logits
     */
    public static Tensor of(Routing routing) {
        if (routing.logits() == null) throw new IllegalArgumentException("router entropy: router '" + routing.router() + "' gives no logits");
        return entropy(routing.logits());
    }
}
