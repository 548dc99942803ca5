package dev.moe4j.moe.experts;

import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.ops.ExpertActivationFunction;
import dev.moe4j.moe.ops.GroupedLinear;
import dev.moe4j.moe.ops.ParameterInit;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.function.BiFunction;

/**
 * The E routed experts of an MoE layer, all stored fused as in Hugging Face transformers 5, and
 * computed with grouped GEMMs over the expert-sorted rows of a routing plan.
 *
 * <p>Gated experts (SwiGLU and GLU variants; Mixtral, Qwen2-MoE, DeepSeek-V3):
 * <pre>
 *   gate_up_proj [E, 2f, d]   rows 0..f-1 the gate projection, rows f..2f-1 the up projection
 *   down_proj    [E, d, f]
 *   y = down_e( act(gate_e x) * up_e x )
 * </pre>
 * Plain experts (ReLU/GELU FFN; Switch Transformers' {@code wi}, {@code wo}):
 * <pre>
 *   up_proj   [E, f, d],   down_proj [E, d, f],   y = down_e( act(up_e x) )
 * </pre>
 * Each weight is stored as {@code nn.Linear} weights [out, in]. Initialisation: normal with
 * standard deviation {@code initStd}.
 *
 * <p>An adapter (LoRA on the expert weights, say) can take over the computation on expert-sorted
 * rows with {@link #setForwardOverride}; the MoE layer keeps calling {@link #forward(Tensor, int[])}
 * and the override reaches the plain experts through {@link #forwardBase}.
 */
public final class GroupedExperts extends Module {
    private final int numExperts, hiddenSize, intermediateSize;
    private final ExpertActivation activation;
    private final boolean gated;
    private final Tensor upProj, downProj;
    private BiFunction<Tensor, int[], Tensor> forwardOverride;

    /**
     * @param numExperts       E
     * @param hiddenSize       d
     * @param intermediateSize f
     * @param activation       the nonlinearity
     * @param gated            GLU experts (gate_up_proj) or plain ones (up_proj)
     * @param dtype            parameter dtype (F32 or F64)
     * @param gen              source of the initial weights
     * @param initStd          standard deviation of the initial weights
     * @throws IllegalArgumentException for a size below 1 or a null activation
     */
    public GroupedExperts(int numExperts, int hiddenSize, int intermediateSize, ExpertActivation activation, boolean gated,
                          DType dtype, Generator gen, double initStd) {
        if (numExperts < 1) throw new IllegalArgumentException("the number of experts E must be >= 1, got " + numExperts);
        if (hiddenSize < 1 || intermediateSize < 1) {
            throw new IllegalArgumentException("expert sizes must be >= 1, got d = " + hiddenSize + ", f = " + intermediateSize);
        }
        if (activation == null) throw new IllegalArgumentException("expert activation is null");
        this.numExperts = numExperts;
        this.hiddenSize = hiddenSize;
        this.intermediateSize = intermediateSize;
        this.activation = activation;
        this.gated = gated;
        int up = gated ? 2 * intermediateSize : intermediateSize;
        this.upProj = registerParameter(gated ? "gate_up_proj" : "up_proj", ParameterInit.normal(gen, dtype, initStd, numExperts, up, hiddenSize));
        this.downProj = registerParameter("down_proj", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize, intermediateSize));
    }

    /** E. */
    public int numExperts() { return numExperts; }

    /** d. */
    public int hiddenSize() { return hiddenSize; }

    /** f. */
    public int intermediateSize() { return intermediateSize; }

    /** The nonlinearity. */
    public ExpertActivation activation() { return activation; }

    /** Whether the experts are gated (GLU). */
    public boolean gated() { return gated; }

    /** {@code gate_up_proj} [E, 2f, d] for gated experts, {@code up_proj} [E, f, d] otherwise. */
    public Tensor upProjection() { return upProj; }

    /** {@code down_proj} [E, d, f]. */
    public Tensor downProjection() { return downProj; }

    /**
     * The experts on expert-sorted rows: rows {@code offsets[e] .. offsets[e+1]-1} of {@code xPerm}
     * go through expert e.
     *
     * @param xPerm   [R, d] rows sorted by expert (permute's output)
     * @param offsets [E + 1] row offsets per expert (the routing plan's), offsets[E] = R
     * @return yPerm [R, d]
     * @throws IllegalArgumentException when the shapes or offsets do not fit
     */
    public Tensor forward(Tensor xPerm, int[] offsets) {
        if (offsets.length != numExperts + 1) {
            throw new IllegalArgumentException("experts: " + offsets.length + " offsets for E = " + numExperts + " experts (need E + 1)");
        }
        if (xPerm.rank() != 2 || xPerm.size(1) != hiddenSize) {
            throw new IllegalArgumentException("experts: rows must be [R, d = " + hiddenSize + "], got " + Shape.str(xPerm.shape()));
        }
        return forwardOverride == null ? forwardBase(xPerm, offsets) : forwardOverride.apply(xPerm, offsets);
    }

    /**
     * The plain experts on expert-sorted rows, whatever override is set: grouped up projection,
     * activation, grouped down projection.
     *
     * @param xPerm   [R, d]
     * @param offsets [E + 1]
     * @return yPerm [R, d]
     */
    public Tensor forwardBase(Tensor xPerm, int[] offsets) {
        Tensor h = new GroupedLinear(offsets).apply(xPerm, upProj);
        Tensor a = new ExpertActivationFunction(activation, gated).apply(h);
        return new GroupedLinear(offsets).apply(a, downProj);
    }

    /**
     * Lets {@code override} compute {@link #forward(Tensor, int[])} from now on (null restores the
     * plain experts); it is called after the shape checks and must not call that method itself (use
     * {@link #forwardBase}).
     */
    public void setForwardOverride(BiFunction<Tensor, int[], Tensor> override) { this.forwardOverride = override; }

    /** The override set with {@link #setForwardOverride}, or null. */
    public BiFunction<Tensor, int[], Tensor> forwardOverride() { return forwardOverride; }

    /**
     * The capacity-padded layout of GShard and Switch: x [E, C, d] holds C rows per expert, expert e
     * processes x[e].
     *
     * @return [E, C, d]
     */
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() != 3 || x.size(0) != numExperts || x.size(2) != hiddenSize) {
            throw new IllegalArgumentException("experts: padded input must be [E = " + numExperts + ", C, d = " + hiddenSize + "], got " + Shape.str(x.shape()));
        }
        int c = x.size(1);
        int[] offsets = new int[numExperts + 1];
        for (int e = 0; e <= numExperts; e++) offsets[e] = e * c;
        Tensor y = forward(dev.moe4j.autograd.F.reshape(x, numExperts * c, hiddenSize), offsets);
        return dev.moe4j.autograd.F.reshape(y, numExperts, c, hiddenSize);
    }

    @Override
    protected String describe() {
        return "E=" + numExperts + ", d=" + hiddenSize + ", f=" + intermediateSize + ", " + activation + (gated ? " gated" : "");
    }
}
