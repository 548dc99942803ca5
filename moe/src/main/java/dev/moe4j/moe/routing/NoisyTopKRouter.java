package dev.moe4j.moe.routing;

import dev.moe4j.autograd.F;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.Gate;
import dev.moe4j.moe.ops.ParameterInit;
import dev.moe4j.moe.ops.Softplus;
import dev.moe4j.moe.ops.TensorArrays;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Noisy top-k gating (Shazeer et al., "Outrageously Large Neural Networks: The Sparsely-Gated
 * Mixture-of-Experts Layer", section 2.1):
 * <pre>
 *   H(x)_i = (x W_g)_i + StandardNormal() * softplus((x W_noise)_i)      in training
 *   H(x)_i = (x W_g)_i                                                    in evaluation
 *   G(x)   = softmax(KeepTopK(H(x), k))
 * </pre>
 * The softmax over the k kept values equals the renormalised top-k of softmax(H), which is how it is
 * computed. The noise term is trainable through W_noise. As in the paper, both weights start at
 * zero ("no signal and some noise"), unless a non-zero {@code initStd} is given. Parameters
 * {@code weight} [E, d] (W_g^T) and {@code noise_weight} [E, d] (W_noise^T); the noise comes from a
 * generator seeded at construction.
 */
public final class NoisyTopKRouter extends Router {
    private final int hiddenSize, numExperts, k;
    private final Capacity capacity;
    private final Tensor weight, noiseWeight;
    private final Generator noise;

    /**
     * @param hiddenSize d
     * @param numExperts E
     * @param k          experts per token
     * @param capacity   expert capacity
     * @param dtype      parameter dtype
     * @param gen        source of the initial weights and the noise
     * @param initStd    standard deviation of the initial weights (0: zeros, as the paper)
     * @throws IllegalArgumentException for E &lt; 1, k outside [1, E] or d &lt; 1
     */
    public NoisyTopKRouter(int hiddenSize, int numExperts, int k, Capacity capacity, DType dtype, Generator gen, double initStd) {
        checkSizes(hiddenSize, numExperts, k);
        if (capacity == null) throw new IllegalArgumentException("capacity is null; use Capacity.unlimited()");
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.k = k;
        this.capacity = capacity;
        this.weight = registerParameter("weight", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize));
        this.noiseWeight = registerParameter("noise_weight", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize));
        this.noise = new Generator(gen.nextLong());
    }

    /** W_g^T [E, d]. */
    public Tensor weight() { return weight; }

    /** W_noise^T [E, d]. */
    public Tensor noiseWeight() { return noiseWeight; }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return k; }
    @Override public int hiddenSize() { return hiddenSize; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        Tensor h = F.linear(x, weight, null);
        if (isTraining()) {
            Tensor std = new Softplus().apply(F.linear(x, noiseWeight, null));
            double[] eps = new double[x.size(0) * numExperts];
            for (int i = 0; i < eps.length; i++) eps[i] = noise.nextGaussian();
            h = F.add(h, F.mul(std, TensorArrays.wrap(eps, x.size(0), numExperts).to(x.dtype()).to(x.device())));
        }
        Gate gate = new Gate(GatingConfig.softmaxTopK(k, true).withRejectNaN(failOnNaN), null);
        Tensor w = gate.apply(h);
        return tokenChoice("noisy top-" + k + (isTraining() ? " (training, noise on)" : " (eval, no noise)"), gate, w, h, null,
                x.size(0), k, numExperts, capacity);
    }

    @Override
    protected String describe() { return "d=" + hiddenSize + ", E=" + numExperts + ", k=" + k + ", capacity=" + capacity; }
}
