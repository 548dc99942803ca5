package dev.moe4j.autograd.optim;

import dev.moe4j.tensor.Tensor;

import java.util.List;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter 2019), as {@code torch.optim.AdamW}: the
 * parameter is shrunk by {@code lr * wd} before the Adam step, instead of the penalty entering the
 * moments.
 */
public final class AdamW extends Adam {
    /** AdamW with betas (0.9, 0.999), eps 1e-8, weight decay 0.01 (PyTorch's defaults). */
    public AdamW(List<Tensor> params, double lr) { this(params, lr, 0.9, 0.999, 1e-8, 0.01); }

    /**
     * @param params      parameters
     * @param lr          learning rate
     * @param beta1       decay of the first moment
     * @param beta2       decay of the second moment
     * @param eps         added to the denominator
     * @param weightDecay decoupled decay coefficient
     */
    public AdamW(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super(params, lr, beta1, beta2, eps, weightDecay, true);
    }
}
