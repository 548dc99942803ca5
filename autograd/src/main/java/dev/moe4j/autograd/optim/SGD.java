package dev.moe4j.autograd.optim;

import dev.moe4j.tensor.Tensor;

import java.util.List;

/**
 * Stochastic gradient descent with momentum and Nesterov momentum (Sutskever et al. 2013), as
 * {@code torch.optim.SGD}:
 * <pre>
 *   g = grad + wd * p
 *   b = g                                  (first step)
 *   b = mu * b + (1 - dampening) * g       (later steps)
 *   d = nesterov ? g + mu * b : b          (d = g without momentum)
 *   p = p - lr * d
 * </pre>
 */
public final class SGD extends Optimizer {
    private final double momentum, dampening, weightDecay;
    private final boolean nesterov;
    private final Tensor[] buffers;

    /** Plain gradient descent. */
    public SGD(List<Tensor> params, double lr) { this(params, lr, 0, 0, 0, false); }

    /**
     * @param params      parameters
     * @param lr          learning rate
     * @param momentum    mu, in [0, 1)
     * @param dampening   dampening of the momentum update
     * @param weightDecay L2 penalty coefficient (added to the gradient)
     * @param nesterov    Nesterov momentum (needs momentum &gt; 0 and no dampening)
     */
    public SGD(List<Tensor> params, double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        super(params, lr);
        if (!(momentum >= 0 && momentum < 1)) throw new IllegalArgumentException("momentum must lie in [0, 1), got " + momentum);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        if (nesterov && (momentum == 0 || dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum needs momentum > 0 and dampening 0, got " + momentum + " and " + dampening);
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        this.buffers = new Tensor[this.params.size()];
    }

    @Override
    protected void update(int i, Tensor p, Tensor g, int t) {
        if (weightDecay != 0) g = g.add(p.mul(weightDecay));
        Tensor d = g;
        if (momentum != 0) {
            Tensor b = buffers[i];
            if (b == null) {
                b = g.copy();
                buffers[i] = b;
            } else {
                b.mulInPlace(momentum).addInPlace(g, 1 - dampening);
            }
            d = nesterov ? g.add(b.mul(momentum)) : b;
        }
        p.addInPlace(d, -lr);
    }
}
