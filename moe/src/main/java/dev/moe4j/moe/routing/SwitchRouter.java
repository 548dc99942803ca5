package dev.moe4j.moe.routing;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.Gate;
import dev.moe4j.moe.ops.TensorArrays;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Switch Transformers top-1 routing with expert capacity (Fedus, Zoph and Shazeer, "Switch
 * Transformers: Scaling to Trillion Parameter Models with Simple and Efficient Sparsity"): logits
 * from a linear {@code classifier}, probabilities = softmax over the E experts, each token goes to
 * its most probable expert with gate weight = that probability. Per group of tokens each expert
 * takes at most C tokens ({@link Capacity}: {@code C = ceil(capacity_factor * group tokens / E)} or a
 * fixed {@code expert_capacity}); the tokens after the first C of an expert, in token order, are
 * dropped: they skip the experts and the layer's routed output for them is zero.
 *
 * <p>Training-only jitter (the paper's multiplicative noise): the router input is multiplied by
 * uniform noise in [1 - eps, 1 + eps]. Sub-module {@code classifier} (weight [E, d], optional bias),
 * named as Hugging Face {@code router.classifier}.
 */
public final class SwitchRouter extends Router {
    private final int hiddenSize, numExperts;
    private final Capacity capacity;
    private final Linear classifier;
    private final double jitter;
    private final Generator noise;

    /**
     * @param hiddenSize d
     * @param numExperts E
     * @param capacity   expert capacity and its token groups
     * @param routerBias whether the classifier has a bias
     * @param jitter     jitter noise eps in [0, 1) (0: none)
     * @param dtype      parameter dtype
     * @param gen        source of the initial weights and of the jitter noise
     * @throws IllegalArgumentException for E &lt; 1, d &lt; 1 or a jitter outside [0, 1)
     */
    public SwitchRouter(int hiddenSize, int numExperts, Capacity capacity, boolean routerBias, double jitter, DType dtype, Generator gen) {
        checkSizes(hiddenSize, numExperts, 1);
        if (capacity == null) throw new IllegalArgumentException("capacity is null; use Capacity.unlimited()");
        if (!(jitter >= 0 && jitter < 1)) throw new IllegalArgumentException("router jitter noise must lie in [0, 1), got " + jitter);
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.capacity = capacity;
        this.jitter = jitter;
        this.noise = new Generator(gen.nextLong());
        this.classifier = registerModule("classifier", new Linear(hiddenSize, numExperts, routerBias, dtype, gen));
    }

    /** The classifier (weight [E, d]). */
    public Linear classifier() { return classifier; }

    /** The expert capacity. */
    public Capacity capacity() { return capacity; }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return 1; }
    @Override public int hiddenSize() { return hiddenSize; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        Tensor in = x;
        if (isTraining() && jitter > 0) {
            double[] u = new double[x.numel()];
            for (int i = 0; i < u.length; i++) u[i] = 1 - jitter + 2 * jitter * noise.nextDouble();
            in = F.mul(x, TensorArrays.wrap(u, x.shape()).to(x.dtype()).to(x.device()));
        }
        Tensor logits = classifier.forward(in);
        Gate gate = new Gate(GatingConfig.softmaxTopK(1, false).withRejectNaN(failOnNaN), null);
        Tensor w = gate.apply(logits);
        return tokenChoice("switch top-1", gate, w, logits, null, x.size(0), 1, numExperts, capacity);
    }

    @Override
    protected String describe() {
        return "d=" + hiddenSize + ", E=" + numExperts + ", capacity=" + capacity + (jitter > 0 ? ", jitter=" + jitter : "");
    }
}
