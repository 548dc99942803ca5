package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Affine layer {@code y = x W^T + b}: x [..., in] &rarr; y [..., out]; parameters {@code weight}
 * [out, in] and {@code bias} [out] (optional), named as in {@code torch.nn.Linear}.
 *
 * <p>Initialisation as PyTorch: weight and bias uniform on [-1/sqrt(in), 1/sqrt(in)].
 */
public final class Linear extends Module {
    private final int inFeatures, outFeatures;
    private final Tensor weight, bias;

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

    @Override
    public Tensor forward(Tensor x) { return F.linear(x, weight, bias); }

    @Override
    protected String describe() { return "in=" + inFeatures + ", out=" + outFeatures + ", bias=" + (bias != null); }
}
