package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * Layer normalization (Ba, Kiros and Hinton 2016) over the last {@code normalizedShape.length} dims:
 * inputs (x [..., *normalizedShape], weight [*normalizedShape] or null, bias [*normalizedShape] or null).
 * <pre>
 *   mu = mean(x),  var = mean((x - mu)^2)  (biased),  r = 1 / sqrt(var + eps)
 *   xhat = (x - mu) r,  y = xhat * weight + bias
 * </pre>
 *
 * <p>Derivative, with n the normalized count and dxhat = g * weight:
 * <pre>
 *   gx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
 *   gweight = sum over the leading dims of g xhat,  gbias = sum over the leading dims of g
 * </pre>
 * (the two means carry the dependence of mu and var on x).
 */
public final class LayerNorm extends Function {
    private final int[] normalizedShape;
    private final double eps;

    /**
     * @param normalizedShape the trailing dims to normalize over
     * @param eps             added to the variance (PyTorch's default is 1e-5)
     */
    public LayerNorm(int[] normalizedShape, double eps) {
        this.normalizedShape = normalizedShape.clone();
        this.eps = eps;
    }

    static int[] trailingDims(String op, int[] shape, int[] normalizedShape) {
        int k = normalizedShape.length, r = shape.length;
        if (k == 0 || k > r || !Arrays.equals(Arrays.copyOfRange(shape, r - k, r), normalizedShape)) {
            throw new IllegalArgumentException(op + ": normalized shape " + Shape.str(normalizedShape) + " must be the trailing dims of the input "
                    + Shape.str(shape));
        }
        int[] dims = new int[k];
        for (int i = 0; i < k; i++) dims[i] = r - k + i;
        return dims;
    }

    static void checkAffine(String op, String what, Tensor t, int[] normalizedShape) {
        if (t != null && !Arrays.equals(t.shape(), normalizedShape)) {
            throw new IllegalArgumentException(op + ": " + what + " of shape " + Shape.str(t.shape()) + " must have the normalized shape "
                    + Shape.str(normalizedShape));
        }
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor x = in[0], w = in.length > 1 ? in[1] : null, b = in.length > 2 ? in[2] : null;
        int[] dims = trailingDims("layer norm", x.shape(), normalizedShape);
        checkAffine("layer norm", "weight", w, normalizedShape);
        checkAffine("layer norm", "bias", b, normalizedShape);
        Tensor centered = x.sub(x.mean(dims, true));
        Tensor rstd = centered.mul(centered).mean(dims, true).add(eps).rsqrt();
        Tensor xhat = centered.mul(rstd);
        ctx.save(xhat, rstd, w);
        Tensor y = w == null ? xhat : xhat.mul(w);
        return b == null ? y : y.add(b);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        Tensor xhat = ctx.saved(0), rstd = ctx.saved(1), w = ctx.saved(2);
        int[] dims = trailingDims("layer norm", xhat.shape(), normalizedShape);
        Tensor[] out = new Tensor[ctx.numInputs()];
        if (ctx.needsInputGrad(0)) {
            Tensor dxhat = w == null ? g : g.mul(w);
            Tensor meanD = dxhat.mean(dims, true);
            Tensor meanDX = dxhat.mul(xhat).mean(dims, true);
            out[0] = dxhat.sub(meanD).sub(xhat.mul(meanDX)).mul(rstd);
        }
        if (out.length > 1 && ctx.needsInputGrad(1)) out[1] = Broadcasting.sumTo(g.mul(xhat), normalizedShape);
        if (out.length > 2 && ctx.needsInputGrad(2)) out[2] = Broadcasting.sumTo(g, normalizedShape);
        return out;
    }
}
