package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Cross-entropy between logits and class targets, with label smoothing and an ignored target
 * value, as {@code torch.nn.functional.cross_entropy}. Inputs: logits [N, C] (floating point),
 * target [N] (I64 or I32, each in [0, C) or equal to {@code ignoreIndex}).
 *
 * <p>With p = softmax(logits) row-wise and smoothing e (Szegedy et al. 2016, "Rethinking the
 * Inception architecture"), the loss of a sample is
 * <pre>
 *   l_i = -(1 - e) log p[i, t_i] - (e / C) sum_c log p[i, c]
 * </pre>
 * and 0 for an ignored sample. Reduction NONE returns l [N]; SUM returns sum l; MEAN returns
 * sum l / (number of samples not ignored), NaN when all are ignored (as PyTorch).
 *
 * <p>Derivative: dl_i/dlogits[i, c] = p[i, c] - (1 - e) [c = t_i] - e / C, times the weight of the
 * sample in the reduction (the upstream gradient, divided by the count for MEAN, 0 if ignored).
 */
public final class CrossEntropy extends Function {
    private final long ignoreIndex;
    private final double labelSmoothing;
    private final Reduction reduction;

    /**
     * @param ignoreIndex    target value whose samples contribute nothing (PyTorch's default is -100)
     * @param labelSmoothing e in [0, 1]
     * @param reduction      how to combine the per-sample losses
     */
    public CrossEntropy(long ignoreIndex, double labelSmoothing, Reduction reduction) {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
            throw new IllegalArgumentException("label smoothing must lie in [0, 1], got " + labelSmoothing);
        }
        this.ignoreIndex = ignoreIndex;
        this.labelSmoothing = labelSmoothing;
        this.reduction = reduction;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor logits = in[0], target = in[1];
        if (!logits.dtype().isFloatingPoint() || logits.rank() != 2) {
            throw new IllegalArgumentException("cross entropy needs floating-point logits [N, C], got " + logits.dtype() + " " + Shape.str(logits.shape()));
        }
        if (target.dtype() != DType.I64 && target.dtype() != DType.I32 || target.rank() != 1 || target.size(0) != logits.size(0)) {
            throw new IllegalArgumentException("cross entropy needs an I64 or I32 target [N] for logits " + Shape.str(logits.shape())
                    + ", got " + target.dtype() + " " + Shape.str(target.shape()));
        }
        int n = logits.size(0), c = logits.size(1);
        long[] t = target.toLongArray();
        long[] safe = new long[n];
        double[] valid = new double[n];
        int count = 0;
        for (int i = 0; i < n; i++) {
            if (t[i] == ignoreIndex) continue;
            if (t[i] < 0 || t[i] >= c) {
                throw new IndexOutOfBoundsException("cross entropy: target " + t[i] + " at sample " + i + " is outside [0, " + c + ")"
                        + " and is not the ignored index " + ignoreIndex);
            }
            safe[i] = t[i];
            valid[i] = 1;
            count++;
        }
        Tensor index = Tensor.of(safe, n, 1).to(logits.device());
        Tensor mask = Tensor.of(valid, n).to(logits.dtype()).to(logits.device());
        Tensor logp = logits.logSoftmax(1);
        Tensor nll = logp.gather(1, index).reshape(n).neg();
        Tensor perSample = labelSmoothing == 0 ? nll
                : nll.mul(1 - labelSmoothing).sub(logp.mean(1, false).mul(labelSmoothing));
        perSample = perSample.mul(mask);
        ctx.save(logp, index, mask);
        return switch (reduction) {
            case NONE -> perSample;
            case SUM -> perSample.sum();
            case MEAN -> perSample.sum().div((double) count);
        };
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor logp = ctx.saved(0), index = ctx.saved(1), mask = ctx.saved(2);
        int n = logp.size(0), c = logp.size(1);
        Tensor onehot = Tensor.zeros(logp.dtype(), logp.device(), n, c).scatterAdd(1, index, Tensor.ones(logp.dtype(), logp.device(), n, 1));
        Tensor d = logp.exp().sub(onehot.mul(1 - labelSmoothing));
        if (labelSmoothing != 0) d = d.sub(labelSmoothing / c);
        Tensor weight = switch (reduction) {
            case NONE -> mask.mul(g);
            case SUM -> mask.mul(g.item());
            case MEAN -> mask.mul(g.item() / mask.sum().item());
        };
        return new Tensor[] {d.mul(weight.reshape(n, 1)), null};
    }
}
