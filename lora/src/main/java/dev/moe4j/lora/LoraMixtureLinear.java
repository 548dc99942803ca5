package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A frozen linear layer plus a routed mixture of LoRA experts:
 * {@code y = x W^T + b + mixture(x)}, x [..., in] &rarr; y [..., out]. Subclasses decide how tokens
 * are routed ({@link MixLoraLinear} top-k, {@link SiraLinear} top-k with capacity and expert
 * dropout, {@link AdaMoleLinear} learned threshold, {@link LoraMoeLinear} soft over all experts).
 *
 * <p>As {@link LoraLinear}, the layer wraps the base Linear (freezing it and becoming its forward
 * override, so a model holding the Linear runs the mixture) and reads the training mode from it.
 * Adapter dropout ({@link AdapterSpec#dropout()}) drops the experts' input in training; the router
 * sees the undropped input. The router and the experts are trainable; {@link #auxLoss()} holds the
 * balancing loss of the last forward, to be added to the training loss.
 */
public abstract class LoraMixtureLinear extends Module {
    /** The frozen layer. */
    protected final Linear base;
    /** The LoRA experts. */
    protected final LoraExpertBank experts;
    /** Source of random masks (adapter dropout, expert dropout). */
    protected final Generator generator;
    private final AdapterSpec spec;
    private final int in, out;
    private Tensor auxLoss;

    /**
     * @param base       the layer to adapt
     * @param numExperts N
     * @param spec       rank, alpha, dropout, initialisation of every expert (DoRA is not supported)
     * @param gen        source of initial values and masks
     * @throws IllegalArgumentException for N &lt; 1, a rank above min(in, out), DoRA, or a base that
     *         is already wrapped
     */
    protected LoraMixtureLinear(Linear base, int numExperts, AdapterSpec spec, Generator gen) {
        if (base == null || spec == null || gen == null) throw new IllegalArgumentException("base, spec and generator must not be null");
        if (spec.useDora()) throw new IllegalArgumentException("mixtures of LoRA experts do not support DoRA experts");
        LoraLinear.checkRank(spec, base);
        if (numExperts < 1) throw new IllegalArgumentException("a mixture needs N >= 1 LoRA experts, got " + numExperts);
        if (base.forwardOverride() != null) throw new IllegalArgumentException("this Linear already has a forward override (it is wrapped by another adapter layer)");
        this.in = base.weight().size(1);
        this.out = base.weight().size(0);
        this.spec = spec;
        this.generator = gen;
        this.base = registerModule("base_layer", base);
        this.experts = registerModule("lora_experts", new LoraExpertBank(numExperts, in, out, spec, base.weight().dtype(), gen));
        base.weight().setRequiresGrad(false);
        if (base.bias() != null) base.bias().setRequiresGrad(false);
        base.setForwardOverride(this::forward);
    }

    /**
     * The mixture's update for token rows.
     *
     * @param x        [T, in] the input, for the router
     * @param xExperts [T, in] the experts' input (x after adapter dropout)
     * @return [T, out]
     */
    protected abstract Tensor mixture(Tensor x, Tensor xExperts);

    /** Records the balancing loss of the current forward (null: none). */
    protected final void setAuxLoss(Tensor loss) { this.auxLoss = loss; }

    /**
     * {@code x W^T + b + mixture(x)}: x [..., in] &rarr; [..., out].
     *
     * @throws IllegalArgumentException before any work for an input whose last size or dtype is not the
     *         layer's, an input on another device than the layer, or an input on a CUDA device in a dtype
     *         other than F32 and BF16 (the device's grouped kernels)
     */
    @Override
    public final Tensor forward(Tensor x) {
        if (x.rank() < 1 || x.size(-1) != in) throw new IllegalArgumentException(getClass().getSimpleName() + ": input " + Shape.str(x.shape()) + " does not end in in_features " + in);
        if (x.dtype() != base.weight().dtype()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": input dtype " + x.dtype() + " differs from the weight dtype " + base.weight().dtype());
        }
        DeviceChecks.require(getClass().getSimpleName(), x, base.weight());
        int tokens = x.numel() / in;
        Tensor x2 = F.reshape(x, tokens, in);
        Tensor xe = F.dropout(x2, spec.dropout(), training(), generator);
        Tensor y = base.forwardBase(x);
        return F.add(y, F.reshape(mixture(x2, xe), y.shape()));
    }

    /** Training mode as the base layer sees it. */
    protected final boolean training() { return base.isTraining(); }

    /** The balancing loss of the last forward (a 0-dim tensor in the graph), or null. */
    public Tensor auxLoss() { return auxLoss; }

    /** The frozen layer. */
    public Linear baseLayer() { return base; }

    /** The LoRA experts. */
    public LoraExpertBank experts() { return experts; }

    /** The experts' settings. */
    public AdapterSpec spec() { return spec; }

    /** Removes the forward override from the base layer. */
    public void unwrap() {
        if (base.forwardOverride() != null) base.setForwardOverride(null);
    }

    /** The trainable (requiresGrad) parameters by full name: router and experts. */
    public Map<String, Tensor> trainableParameters() {
        Map<String, Tensor> outMap = new LinkedHashMap<>();
        Map<Tensor, Boolean> seen = new IdentityHashMap<>();
        for (Map.Entry<String, Tensor> e : namedParameters().entrySet()) {
            if (e.getValue().requiresGrad() && seen.put(e.getValue(), Boolean.TRUE) == null) outMap.put(e.getKey(), e.getValue());
        }
        return outMap;
    }

    @Override
    protected String describe() { return "in=" + in + ", out=" + out; }
}
