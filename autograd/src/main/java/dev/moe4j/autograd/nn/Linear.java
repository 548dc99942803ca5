package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.function.UnaryOperator;

/**
 * Affine layer {@code y = x W^T + b}: x [..., in] &rarr; y [..., out]; parameters {@code weight}
 * [out, in] and {@code bias} [out] (optional), named as in {@code torch.nn.Linear}.
 *
 * <p>Initialisation as PyTorch: weight and bias uniform on [-1/sqrt(in), 1/sqrt(in)].
 *
 * <p>An adapter (a LoRA layer, say) can take over {@link #forward} of a layer that sits inside a
 * model with {@link #setForwardOverride}: the model keeps calling this layer, the override computes
 * the output and reaches the plain affine map through {@link #forwardBase}.
 */
public final class Linear extends Module {
    private final int inFeatures, outFeatures;
    private final Tensor weight, bias;
    private UnaryOperator<Tensor> forwardOverride;

    /** F32 layer with a bias. */
    public Linear(int inFeatures, int outFeatures, Generator gen) { this(inFeatures, outFeatures, true, DType.F32, gen); }

    /**
     * @param inFeatures  input size
     * @param outFeatures output size
     * @param bias        whether to add a bias
     * @param dtype       parameter dtype
     * @param gen         source of the initial values
     */
    public Linear(int inFeatures, int outFeatures, boolean bias, DType dtype, Generator gen) {
        if (inFeatures <= 0 || outFeatures <= 0) {
            throw new IllegalArgumentException("Linear sizes must be positive, got in " + inFeatures + ", out " + outFeatures);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        double bound = 1 / Math.sqrt(inFeatures);
        this.weight = registerParameter("weight", Init.uniform(gen, dtype, bound, outFeatures, inFeatures));
        this.bias = bias ? registerParameter("bias", Init.uniform(gen, dtype, bound, outFeatures)) : null;
    }

    /** W [out, in]. */
    public Tensor weight() { return weight; }

    /** b [out], or null. */
    public Tensor bias() { return bias; }

    /** {@code x W^T + b}, or the override's result when one is set (see {@link #setForwardOverride}). */
    @Override
    public Tensor forward(Tensor x) { return forwardOverride == null ? forwardBase(x) : forwardOverride.apply(x); }

    /** The plain affine map {@code x W^T + b}: x [..., in] &rarr; [..., out], whatever override is set. */
    public Tensor forwardBase(Tensor x) { return F.linear(x, weight, bias); }

    /**
     * Lets {@code override} compute {@link #forward} from now on (null restores the plain map). The
     * override must not call {@link #forward} of this layer (use {@link #forwardBase}).
     */
    public void setForwardOverride(UnaryOperator<Tensor> override) { this.forwardOverride = override; }

    /** The override set with {@link #setForwardOverride}, or null. */
    public UnaryOperator<Tensor> forwardOverride() { return forwardOverride; }

    @Override
    protected String describe() { return "in=" + inFeatures + ", out=" + outFeatures + ", bias=" + (bias != null); }
}
