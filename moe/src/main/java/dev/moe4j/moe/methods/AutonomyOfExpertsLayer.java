package dev.moe4j.moe.methods;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.balance.BalanceLosses;
import dev.moe4j.moe.ops.CombineExperts;
import dev.moe4j.moe.ops.DeviceOps;
import dev.moe4j.moe.ops.DevicePlan;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.ops.ExpertActivationFunction;
import dev.moe4j.moe.ops.Gate;
import dev.moe4j.moe.ops.GroupedLinear;
import dev.moe4j.moe.ops.ParameterInit;
import dev.moe4j.moe.ops.PermuteTokens;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.Plans;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * A router-free MoE layer, Autonomy-of-Experts (Lv et al., "Autonomy-of-Experts Models"): every
 * expert looks at every token through the first, low-rank half of its own gate projection, the
 * size of that activation ranks the experts, and only the k best finish their computation, reusing
 * the activation they already computed.
 * <pre>
 *   expert e: SwiGLU with its gate projection factorised W_g^e = A_e B_e,  d -&gt; r -&gt; f
 *   z[t, e]   = x_t A_e                          [T, E, r]  every token, every expert (one dense product)
 *   n[t, e]   = ||z[t, e]||_2                    [T, E]     (computed as sqrt(sum z^2 + 1e-12))
 *   ids       = top-k of n[t, :] per token                   (ties to the lower expert)
 *   weights   = softmax over the k selected norms            (renormalised top-k of softmax(n));
 *               or, with renormalize off, softmax(n) over all E taken at the k selected
 *   for the selected (t, e):  g = z[t, e] B_e   u = x_t W_up^e   y_e = W_down^e (act(g) * u)
 *   y_t       = sum over its k experts of weight * y_e
 * </pre>
 * The paper ranks experts by the L2 norm of the low-rank activation and gates the chosen experts
 * with a softmax over their norms (the default here); the softmax over all E norms is the
 * alternative ({@code renormalize = false}). Gradients reach x and all four
 * weights; through the gate weights they also reach A (the norms), which is how the experts learn to
 * select themselves.
 *
 * <p>Parameters (stored as {@code nn.Linear} weights [out, in], one slice per expert):
 * {@code w_down_gate} A^T [E, r, d], {@code w_up_gate} B^T [E, f, r], {@code up_proj} [E, f, d],
 * {@code down_proj} [E, d, f]. An optional Switch balance loss on softmax(n) is available as
 * {@link #auxLoss()}.
 *
 * <p>On a CUDA device (after {@code to(device)}; F32, or BF16 with BF16 parameters) the products,
 * the norms and the gating run there; the chosen expert ids come to the host (T k ints), where the
 * plan and the rows of z to reuse are made, and go back up once: the plan as a {@link DevicePlan}
 * shared by permute and combine, the row indices as an I64 vector. The gate weights stay F32.
 */
public final class AutonomyOfExpertsLayer extends Module {
    private static final double NORM_EPS = 1e-12;
    private final int hiddenSize, numExperts, rank, intermediateSize, k;
    private final boolean renormalize;
    private final ExpertActivation activation;
    private final double balanceCoef;
    private final Tensor aDown, bUp, upProj, downProj;

    private Routing lastRouting;
    private Tensor lastAuxLoss;

    /**
     * @param hiddenSize       d
     * @param numExperts       E
     * @param rank             r, the width of the factorised gate projection
     * @param intermediateSize f
     * @param k                experts per token, 1 &lt;= k &lt;= E
     * @param renormalize      softmax over the k selected norms (true) or softmax over all E norms
     * @param activation       the nonlinearity of the gate (SILU for SwiGLU)
     * @param balanceCoef      weight of the Switch balance loss on softmax(norms) (0: off)
     * @param dtype            parameter dtype (F32 or F64)
     * @param gen              source of the initial weights
     * @param initStd          standard deviation of the initial weights
     * @throws IllegalArgumentException for a size below 1, k outside [1, E], a null activation or a
     *         negative coefficient
     */
    public AutonomyOfExpertsLayer(int hiddenSize, int numExperts, int rank, int intermediateSize, int k, boolean renormalize,
                                  ExpertActivation activation, double balanceCoef, DType dtype, Generator gen, double initStd) {
        if (hiddenSize < 1 || numExperts < 1 || rank < 1 || intermediateSize < 1) {
            throw new IllegalArgumentException("AoE sizes must be >= 1, got d = " + hiddenSize + ", E = " + numExperts + ", r = " + rank + ", f = " + intermediateSize);
        }
        if (k < 1 || k > numExperts) throw new IllegalArgumentException("k must lie in [1, E = " + numExperts + "], got " + k);
        if (activation == null) throw new IllegalArgumentException("activation is null");
        if (!(balanceCoef >= 0) || Double.isInfinite(balanceCoef)) throw new IllegalArgumentException("balance coefficient must be finite and >= 0, got " + balanceCoef);
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.rank = rank;
        this.intermediateSize = intermediateSize;
        this.k = k;
        this.renormalize = renormalize;
        this.activation = activation;
        this.balanceCoef = balanceCoef;
        this.aDown = registerParameter("w_down_gate", ParameterInit.normal(gen, dtype, initStd, numExperts, rank, hiddenSize));
        this.bUp = registerParameter("w_up_gate", ParameterInit.normal(gen, dtype, initStd, numExperts, intermediateSize, rank));
        this.upProj = registerParameter("up_proj", ParameterInit.normal(gen, dtype, initStd, numExperts, intermediateSize, hiddenSize));
        this.downProj = registerParameter("down_proj", ParameterInit.normal(gen, dtype, initStd, numExperts, hiddenSize, intermediateSize));
    }

    /** The layer on x [..., d] &rarr; [..., d]. @throws IllegalArgumentException when the last dim is not d */
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 1 || x.size(-1) != hiddenSize) {
            throw new IllegalArgumentException("AoE layer: input must be [..., d = " + hiddenSize + "], got " + Shape.str(x.shape()));
        }
        DeviceOps.requireCompute("AoE layer", "x", x);
        int T = x.numel() / hiddenSize, E = numExperts, r = rank;
        Tensor x2 = F.reshape(x, T, hiddenSize);

        // every expert's low-rank activation, and its norm
        Tensor z = F.linear(x2, F.reshape(aDown, E * r, hiddenSize), null);                    // [T, E r]
        Tensor norms = F.sqrt(F.add(F.sum(F.square(F.reshape(z, T, E, r)), 2, false), NORM_EPS)); // [T, E]

        // the k largest norms choose the experts; the gate is a softmax over norms
        Gate gate = new Gate(GatingConfig.softmaxTopK(k, renormalize), null);
        Tensor w = gate.apply(norms);
        int[] ids = gate.ids();
        RoutingPlan plan = Plans.build(ids, null, null, T, k, E, Capacity.unlimited());
        Routing routing = new Routing("autonomy-of-experts top-" + k + " by activation norm", plan, ids, null, w, norms, gate.scores(), null, 0);

        // the selected experts finish: reuse z[t, e] for the gate, x for the up projection
        int[] offsets = plan.offsets();
        int R = plan.numRows();
        long[] zRows = new long[R];
        for (int row = 0; row < R; row++) zRows[row] = (long) plan.token(row) * E + ids[plan.rowToPair()[row]];
        Tensor zPerm = F.indexSelect(F.reshape(z, T * E, r), 0, Tensor.of(zRows, R).to(x.device()));   // [R, r]
        DevicePlan devicePlan = DeviceOps.onCuda(x) ? routing.devicePlan(x.device()) : null;
        Tensor xPerm = devicePlan != null ? new PermuteTokens(devicePlan).apply(x2) : new PermuteTokens(plan).apply(x2);   // [R, d]
        Tensor g = new GroupedLinear(offsets).apply(zPerm, bUp);                                 // [R, f]
        Tensor u = new GroupedLinear(offsets).apply(xPerm, upProj);                              // [R, f]
        Tensor a = F.mul(new ExpertActivationFunction(activation, false).apply(g), u);
        Tensor yPerm = new GroupedLinear(offsets).apply(a, downProj);                            // [R, d]
        Tensor y = devicePlan != null ? new CombineExperts(devicePlan).apply(yPerm, w) : new CombineExperts(plan).apply(yPerm, w);

        lastAuxLoss = balanceCoef > 0 && T > 0 ? F.mul(BalanceLosses.switchLoadBalancingFromLogits(norms, ids, k), balanceCoef) : null;
        lastRouting = routing;
        return F.reshape(y, x.shape());
    }

    /** The routing of the last forward (logits: the norms [T, E]). @throws IllegalStateException before the first forward */
    public Routing lastRouting() {
        if (lastRouting == null) throw new IllegalStateException("the AoE layer has not run a forward yet");
        return lastRouting;
    }

    /** The weighted balance loss of the last forward (0-dim, in the graph); a constant 0 when off. */
    public Tensor auxLoss() {
        lastRouting();
        return lastAuxLoss != null ? lastAuxLoss : Tensor.zeros(aDown.dtype(), aDown.device());
    }

    /** A^T [E, r, d]: the first factor of each expert's gate projection. */
    public Tensor gateDown() { return aDown; }

    /** B^T [E, f, r]: the second factor of each expert's gate projection. */
    public Tensor gateUp() { return bUp; }

    /** W_up [E, f, d]. */
    public Tensor upProjection() { return upProj; }

    /** W_down [E, d, f]. */
    public Tensor downProjection() { return downProj; }

    /** E. */
    public int numExperts() { return numExperts; }

    /** k. */
    public int topK() { return k; }

    /** r. */
    public int rank() { return rank; }

    /** The nonlinearity. */
    public ExpertActivation activation() { return activation; }

    /** Whether the weights are a softmax over the selected norms only. */
    public boolean renormalizes() { return renormalize; }

    @Override
    protected String describe() {
        return "d=" + hiddenSize + ", E=" + numExperts + ", r=" + rank + ", f=" + intermediateSize + ", k=" + k + ", " + activation
                + (renormalize ? ", softmax over selected norms" : ", softmax over all norms");
    }
}
