package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Inverted dropout (Srivastava et al. 2014): each element is kept with probability 1 - p and
 * scaled by 1 / (1 - p), else zeroed: {@code y = x * m}, {@code m = [u >= p] / (1 - p)}, u uniform
 * on [0, 1) from the given generator. (Dropout in evaluation mode is the identity and is not
 * recorded; see {@code F.dropout}.)
 *
 * <p>Derivative: dy/dx = m, the same mask.
 *
 * <p>The mask is always drawn on the host from the generator and uploaded when x lives on a CUDA
 * device, so a model and its copy on the device drop the same elements.
 */
public final class Dropout extends Function {
    private final double p;
    private final Generator generator;

    /**
     * @param p         drop probability in [0, 1]
     * @param generator source of the mask
     */
    public Dropout(double p, Generator generator) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout probability must lie in [0, 1], got " + p);
        this.p = p;
        this.generator = generator;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0];
        Tensor mask;
        if (p == 1) {
            mask = Tensor.zeros(x.dtype(), x.shape());
        } else {
            Tensor u = Tensor.rand(generator, x.dtype(), x.shape());
            mask = u.ge(Tensor.scalar(x.dtype(), p)).to(x.dtype()).mul(1.0 / (1.0 - p));
        }
        mask = mask.to(x.device());
        ctx.save(mask);
        return x.mul(mask);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(ctx.saved(0))}; }
}
