package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Mean squared error {@code l = (x - y)^2} elementwise, reduced by {@link Reduction}; inputs (x, y)
 * of one shape, as {@code torch.nn.functional.mse_loss}.
 *
 * <p>Derivative: dl/dx = 2 (x - y), dl/dy = -2 (x - y), times the upstream gradient (divided by
 * the element count for MEAN).
 */
public final class MseLoss extends Function {
    private final Reduction reduction;

    /** With the given reduction. */
    public MseLoss(Reduction reduction) { this.reduction = reduction; }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        if (!in[0].sameShape(in[1])) {
            throw new IllegalArgumentException("mse loss needs input and target of one shape, got " + Shape.str(in[0].shape())
                    + " and " + Shape.str(in[1].shape()));
        }
        Tensor diff = in[0].sub(in[1]);
        ctx.save(diff);
        Tensor sq = diff.mul(diff);
        return switch (reduction) {
            case NONE -> sq;
            case SUM -> sq.sum();
            case MEAN -> sq.mean();
        };
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor diff = ctx.saved(0);
        Tensor gx = switch (reduction) {
            case NONE -> diff.mul(g).mul(2.0);
            case SUM -> diff.mul(2.0 * g.item());
            case MEAN -> diff.mul(2.0 * g.item() / Math.max(1, diff.numel()));
        };
        return new Tensor[] {ctx.needsInputGrad(0) ? gx : null, ctx.needsInputGrad(1) ? gx.neg() : null};
    }
}
