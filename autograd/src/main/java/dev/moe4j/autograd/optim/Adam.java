package dev.moe4j.autograd.optim;

import dev.moe4j.tensor.Tensor;

import java.util.List;

/**
 * Adam (Kingma and Ba 2015), as {@code torch.optim.Adam}, with an optional L2 penalty added to the
 * gradient; {@link AdamW} decouples the weight decay instead.
 * <pre>
 *   g = grad + wd * p                      (L2 form; AdamW: p = p * (1 - lr * wd) first, g = grad)
 *   m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
 *   p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * </pre>
 */
public class Adam extends Optimizer {
    private final double beta1, beta2, eps, weightDecay;
    private final boolean decoupled;
    private final Tensor[] m, v;

    /** Adam with betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public Adam(List<Tensor> params, double lr) { this(params, lr, 0.9, 0.999, 1e-8, 0); }

    /**
     * @param params      parameters
     * @param lr          learning rate
     * @param beta1       decay of the first moment, in [0, 1)
     * @param beta2       decay of the second moment, in [0, 1)
     * @param eps         added to the denominator
     * @param weightDecay L2 penalty coefficient
     */
    public Adam(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        this(params, lr, beta1, beta2, eps, weightDecay, false);
    }

    Adam(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        super(params, lr);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("Adam betas must lie in [0, 1), got " + beta1 + ", " + beta2);
        }
        if (!(eps >= 0)) throw new IllegalArgumentException("eps must be >= 0, got " + eps);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decoupled = decoupled;
        this.m = new Tensor[this.params.size()];
        this.v = new Tensor[this.params.size()];
    }

    @Override
    protected final void update(int i, Tensor p, Tensor g, int t) {
        if (weightDecay != 0) {
            if (decoupled) p.mulInPlace(1 - lr * weightDecay);
            else g = g.add(p.mul(weightDecay));
        }
        if (m[i] == null) {
            m[i] = Tensor.zerosLike(p);
            v[i] = Tensor.zerosLike(p);
        }
        m[i].mulInPlace(beta1).addInPlace(g, 1 - beta1);
        v[i].mulInPlace(beta2).addInPlace(g.mul(g), 1 - beta2);
        double bc1 = 1 - Math.pow(beta1, t);
        double bc2 = 1 - Math.pow(beta2, t);
        Tensor denom = v[i].sqrt().div(Math.sqrt(bc2)).add(eps);
        p.addInPlace(m[i].div(denom), -lr / bc1);
    }
}
