package dev.moe4j.moe.experts;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.ops.ExpertActivationFunction;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * An always-on dense expert that every token passes through beside the routed ones: the shared
 * experts of DeepSeekMoE ("DeepSeekMoE: Towards Ultimate Expert Specialization in
 * Mixture-of-Experts Language Models"; DeepSeek-V3 fuses its {@code n_shared_experts} into one MLP of
 * {@code n_shared_experts * moe_intermediate_size}) and the shared expert of Qwen2-MoE (whose output
 * the layer scales by a sigmoid gate).
 * <pre>
 *   gated: y = down_proj( act(gate_proj x) * up_proj x )      plain: y = down_proj( act(up_proj x) )
 *   gate_proj, up_proj [f, d], down_proj [d, f]  (sub-modules with a {@code weight}, no bias)
 * </pre>
 */
public final class SharedExpert extends Module {
    private final Linear gate, up, down;
    private final ExpertActivation activation;

    /**
     * @param hiddenSize       d
     * @param intermediateSize f
     * @param activation       the nonlinearity
     * @param gated            whether it has a gate projection
     * @param dtype            parameter dtype
     * @param gen              source of the initial weights
     * @throws IllegalArgumentException for a size below 1
     */
    public SharedExpert(int hiddenSize, int intermediateSize, ExpertActivation activation, boolean gated, DType dtype, Generator gen) {
        if (hiddenSize < 1 || intermediateSize < 1) {
            throw new IllegalArgumentException("shared expert sizes must be >= 1, got d = " + hiddenSize + ", f = " + intermediateSize);
        }
        if (activation == null) throw new IllegalArgumentException("shared expert activation is null");
        this.activation = activation;
        this.gate = gated ? registerModule("gate_proj", new Linear(hiddenSize, intermediateSize, false, dtype, gen)) : null;
        this.up = registerModule("up_proj", new Linear(hiddenSize, intermediateSize, false, dtype, gen));
        this.down = registerModule("down_proj", new Linear(intermediateSize, hiddenSize, false, dtype, gen));
    }

    /** gate_proj (null for a plain expert). */
    public Linear gateProj() { return gate; }

    /** up_proj. */
    public Linear upProj() { return up; }

    /** down_proj. */
    public Linear downProj() { return down; }

    /** x [..., d] &rarr; [..., d]. */
    @Override
    public Tensor forward(Tensor x) {
        Tensor u = F.linear(x, up.weight(), null);
        Tensor h;
        if (gate != null) {
            Tensor g = F.linear(x, gate.weight(), null);
            int f = g.size(-1);
            Tensor a = new ExpertActivationFunction(activation, false).apply(F.reshape(g, -1, f));
            h = F.mul(F.reshape(a, g.shape()), u);
        } else {
            int f = u.size(-1);
            h = F.reshape(new ExpertActivationFunction(activation, false).apply(F.reshape(u, -1, f)), u.shape());
        }
        return F.linear(h, down.weight(), null);
    }

    @Override
    protected String describe() { return activation + (gate != null ? " gated" : ""); }
}
