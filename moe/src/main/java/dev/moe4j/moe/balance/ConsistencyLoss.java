package dev.moe4j.moe.balance;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * THOR's consistency-regularised objective (Zuo et al., "Taming Sparsely Activated Transformer with
 * Stochastic Experts"): the model runs twice on the same batch with different random experts
 * ({@link dev.moe4j.moe.routing.StochasticExpertRouter}), giving two output distributions p_1, p_2;
 * the training loss is the mean of the two task losses plus a symmetric KL divergence that makes the
 * randomly chosen experts agree, so that each of them learns the whole task.
 * <pre>
 *   logits_1, logits_2 [..., C]     p_i = softmax(logits_i) over the last dim
 *   CR   = mean over rows of (KL(p_1 || p_2) + KL(p_2 || p_1)) / 2,   KL(p || q) = sum_c p_c (log p_c - log q_c)
 *   loss = (CE(logits_1, y) + CE(logits_2, y)) / 2 + alpha * CR
 * </pre>
 * Both directions carry gradient into both passes (no stop-gradient). Composed from differentiable
 * ops (log-softmax, exp, products, sums), which run on the logits' device; BF16 logits (on a CUDA
 * device) are taken in F32, and the losses are then F32.
 */
public final class ConsistencyLoss {
    private ConsistencyLoss() {}

    /**
     * The symmetric KL regulariser.
     *
     * @param logitsA [..., C] logits of the first pass
     * @param logitsB [..., C] logits of the second pass, same shape
     * @return a 0-dim tensor: the mean over the leading dims of the symmetric KL over the last dim
     * @throws IllegalArgumentException for differing shapes or a rank-0 input
     */
    public static Tensor symmetricKl(Tensor logitsA, Tensor logitsB) {
        if (logitsA.rank() < 1 || !Arrays.equals(logitsA.shape(), logitsB.shape())) {
            throw new IllegalArgumentException("consistency loss: logits must share one shape [..., C], got " + Shape.str(logitsA.shape()) + " and " + Shape.str(logitsB.shape()));
        }
        Tensor logA = F.logSoftmax(wide(logitsA), -1), logB = F.logSoftmax(wide(logitsB), -1);
        Tensor diff = F.sub(logA, logB);
        // KL(a||b) + KL(b||a) = sum_c (p_a - p_b)(log p_a - log p_b)
        Tensor both = F.sum(F.mul(F.sub(F.exp(logA), F.exp(logB)), diff), -1, false);
        return F.mul(F.mean(both), 0.5);
    }

    /**
     * THOR's training loss for a classification head.
     *
     * @param logitsA [N, C] first pass
     * @param logitsB [N, C] second pass
     * @param target  [N] I64 or I32 classes
     * @param alpha   weight of the consistency term, &gt;= 0
     * @return a 0-dim tensor
     * @throws IllegalArgumentException for bad shapes or a negative alpha
     */
    public static Tensor thorObjective(Tensor logitsA, Tensor logitsB, Tensor target, double alpha) {
        if (!(alpha >= 0) || Double.isInfinite(alpha)) throw new IllegalArgumentException("consistency weight alpha must be finite and >= 0, got " + alpha);
        Tensor task = F.mul(F.add(F.crossEntropy(wide(logitsA), target), F.crossEntropy(wide(logitsB), target)), 0.5);
        return alpha == 0 ? task : F.add(task, F.mul(symmetricKl(logitsA, logitsB), alpha));
    }

    /** BF16 logits as F32 (in the graph); other dtypes as they are. */
    private static Tensor wide(Tensor logits) {
        return logits.dtype() == DType.BF16 ? F.to(logits, DType.F32) : logits;
    }
}
