package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Tensor;

/**
 * Root-mean-square normalization (Zhang and Sennrich 2019) over the last
 * {@code normalizedShape.length} dims: inputs (x [..., *normalizedShape], weight or null).
 * <pre>
 *   r = 1 / sqrt(mean(x^2) + eps),  xhat = x r,  y = xhat * weight
 * </pre>
 *
 * <p>Derivative, with dxhat = g * weight: {@code gx = r (dxhat - xhat mean(dxhat xhat))},
 * {@code gweight = sum over the leading dims of g xhat}.
 */
public final class RmsNorm extends Function {
    private final int[] normalizedShape;
    private final double eps;

    /**
     * @param normalizedShape the trailing dims to normalize over
     * @param eps             added to the mean square (1e-6 in Llama and most MoE models)
     */
    public RmsNorm(int[] normalizedShape, double eps) {
        this.normalizedShape = normalizedShape.clone();
        this.eps = eps;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0], w = in.length > 1 ? in[1] : null;
        int[] dims = LayerNorm.trailingDims("rms norm", x.shape(), normalizedShape);
        LayerNorm.checkAffine("rms norm", "weight", w, normalizedShape);
        Tensor rstd = x.mul(x).mean(dims, true).add(eps).rsqrt();
        Tensor xhat = x.mul(rstd);
        ctx.save(xhat, rstd, w);
        return w == null ? xhat : xhat.mul(w);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor xhat = ctx.saved(0), rstd = ctx.saved(1), w = ctx.saved(2);
        int[] dims = LayerNorm.trailingDims("rms norm", xhat.shape(), normalizedShape);
        Tensor[] out = new Tensor[ctx.numInputs()];
        if (ctx.needsInputGrad(0)) {
            Tensor dxhat = w == null ? g : g.mul(w);
            Tensor meanDX = dxhat.mul(xhat).mean(dims, true);
            out[0] = dxhat.sub(xhat.mul(meanDX)).mul(rstd);
        }
        if (out.length > 1 && ctx.needsInputGrad(1)) out[1] = Broadcasting.sumTo(g.mul(xhat), normalizedShape);
        return out;
    }
}
