package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Init;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.CombineExperts;
import dev.moe4j.moe.ops.DeviceOps;
import dev.moe4j.moe.ops.DevicePlan;
import dev.moe4j.moe.ops.GroupedLinear;
import dev.moe4j.moe.ops.PermuteTokens;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * N LoRA experts of one shape, stacked: {@code lora_A} [N, r, in] and {@code lora_B} [N, out, r],
 * each expert i adding {@code s * B_i A_i x}. The mixtures of LoRA experts
 * ({@link MixLoraLinear}, {@link SiraLinear}, {@link AdaMoleLinear}, {@link LoraMoeLinear}) put a
 * router in front of a bank.
 *
 * <p>Two ways to evaluate a weighted sum of experts:
 * <ul>
 *   <li>{@link #routed}: sparse, over a routing plan. Permute the tokens into expert order, shrink
 *       with one grouped GEMM (rows of expert i times A_i^T), expand with another (times B_i^T),
 *       combine each token's rows with its gate weights times s. Cost proportional to the kept
 *       (token, expert) pairs.</li>
 *   <li>{@link #dense}: every expert on every token, as two dense products: {@code H = x [A_0; ...;
 *       A_{N-1}]^T} [T, N r], each block of r columns scaled by its gate weight, then
 *       {@code H [B_0 ... B_{N-1}]^T} [T, out].</li>
 * </ul>
 * Initialisation follows {@link LoraInit} per expert (PEFT's: A Kaiming-uniform, B zero).
 */
public final class LoraExpertBank extends Module {
    private final int numExperts, r, in, out;
    private final double scaling;
    private final Tensor a, b;

    /**
     * @param numExperts N &gt;= 1
     * @param in         input size
     * @param out        output size
     * @param spec       rank, alpha (scaling alpha / r or alpha / sqrt(r)), initialisation
     * @param dtype      parameter dtype
     * @param gen        source of the initial values
     * @throws IllegalArgumentException for N &lt; 1 or r above min(in, out)
     */
    public LoraExpertBank(int numExperts, int in, int out, AdapterSpec spec, DType dtype, Generator gen) {
        if (numExperts < 1) throw new IllegalArgumentException("a LoRA expert bank needs N >= 1 experts, got " + numExperts);
        if (spec.r() > Math.min(in, out)) {
            throw new IllegalArgumentException("LoRA rank r = " + spec.r() + " exceeds min(in, out) = min(" + in + ", " + out + ")");
        }
        this.numExperts = numExperts;
        this.r = spec.r();
        this.in = in;
        this.out = out;
        this.scaling = spec.scaling();
        Tensor a0 = spec.init() == LoraInit.GAUSSIAN ? Init.normal(gen, dtype, 1.0 / r, numExperts, r, in)
                : Init.uniform(gen, dtype, 1 / Math.sqrt(in), numExperts, r, in);
        Tensor b0 = spec.init() == LoraInit.RANDOM ? Init.uniform(gen, dtype, 1 / Math.sqrt(r), numExperts, out, r)
                : Tensor.zeros(dtype, numExperts, out, r);
        this.a = registerParameter("lora_A", a0);
        this.b = registerParameter("lora_B", b0);
    }

    /** N. */
    public int numExperts() { return numExperts; }

    /** r. */
    public int rank() { return r; }

    /** s. */
    public double scaling() { return scaling; }

    /** A [N, r, in]. */
    public Tensor a() { return a; }

    /** B [N, out, r]. */
    public Tensor b() { return b; }

    private void checkRows(Tensor x) {
        if (x.rank() != 2 || x.size(1) != in) throw new IllegalArgumentException("expert bank: x must be [T, in = " + in + "], got " + Shape.str(x.shape()));
    }

    /**
     * Sparse mixture: {@code delta[t] = s * sum over t's kept pairs (t, j) of w[t, j] B_e A_e x[t]},
     * e the expert of the pair. On a CUDA device the host plan is uploaded once for the three steps.
     *
     * @param x       [T, in]
     * @param plan    routing plan over N experts (k slots per token)
     * @param weights [T, k] gate weights (differentiable)
     * @return [T, out]
     */
    public Tensor routed(Tensor x, RoutingPlan plan, Tensor weights) {
        checkRows(x);
        checkPlan(x, plan.numTokens(), plan.numExperts());
        if (DeviceOps.onCuda(x)) return routedOnDevice(x, DevicePlan.upload(plan, x.device()), weights);
        int[] offsets = plan.offsets();
        Tensor xPerm = new PermuteTokens(plan).apply(x);
        Tensor h = new GroupedLinear(offsets).apply(xPerm, a);
        Tensor yPerm = new GroupedLinear(offsets).apply(h, b);
        Tensor w = weights.dtype() == x.dtype() ? weights : F.to(weights, x.dtype());
        return new CombineExperts(plan).apply(yPerm, F.mul(w, scaling));
    }

    /**
     * {@link #routed(Tensor, RoutingPlan, Tensor)} over a router's decision: on a CUDA device its
     * device plan (built there, or the host plan uploaded once), on the CPU its host plan.
     *
     * @param x       [T, in]
     * @param routing a routing of T tokens over N experts
     * @param weights [T, k] gate weights (differentiable; the routing's own, or derived from them)
     * @return [T, out]
     */
    public Tensor routed(Tensor x, Routing routing, Tensor weights) {
        checkRows(x);
        checkPlan(x, routing.numTokens(), routing.numExperts());
        if (DeviceOps.onCuda(x)) return routedOnDevice(x, routing.devicePlan(x.device()), weights);
        return routed(x, routing.plan(), weights);
    }

    /** permute, shrink, expand, combine on a plan on x's device; the gate weights enter the combine in F32. */
    private Tensor routedOnDevice(Tensor x, DevicePlan plan, Tensor weights) {
        int[] offsets = plan.offsets();
        Tensor xPerm = new PermuteTokens(plan).apply(x);
        Tensor h = new GroupedLinear(offsets).apply(xPerm, a);
        Tensor yPerm = new GroupedLinear(offsets).apply(h, b);
        Tensor w = weights.dtype() == DType.F32 ? weights : F.to(weights, DType.F32);
        return new CombineExperts(plan).apply(yPerm, F.mul(w, scaling));
    }

    private void checkPlan(Tensor x, int tokens, int planExperts) {
        if (planExperts != numExperts || tokens != x.size(0)) {
            throw new IllegalArgumentException("expert bank: plan for T = " + tokens + ", E = " + planExperts
                    + " does not fit x " + Shape.str(x.shape()) + " and N = " + numExperts);
        }
    }

    /**
     * Dense mixture: {@code delta[t] = s * sum over all i of w[t, i] B_i A_i x[t]}.
     *
     * @param x       [T, in]
     * @param weights [T, N] (differentiable)
     * @return [T, out]
     */
    public Tensor dense(Tensor x, Tensor weights) {
        checkRows(x);
        int T = x.size(0);
        if (weights.rank() != 2 || weights.size(0) != T || weights.size(1) != numExperts) {
            throw new IllegalArgumentException("expert bank: weights must be [T, N] = [" + T + ", " + numExperts + "], got " + Shape.str(weights.shape()));
        }
        Tensor h = F.linear(x, F.reshape(a, numExperts * r, in), null);                       // [T, N r]
        Tensor wr = F.reshape(F.expand(F.unsqueeze(weights, 2), T, numExperts, r), T, numExperts * r);
        Tensor bCat = F.reshape(F.permute(b, 1, 0, 2), out, numExperts * r);                  // [out, N r]
        return F.mul(F.linear(F.mul(h, wr), bCat, null), scaling);
    }

    /** Each expert on the capacity-padded layout x [N, C, in]: {@code s * x_i A_i^T B_i^T} [N, C, out]. */
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() != 3 || x.size(0) != numExperts || x.size(2) != in) {
            throw new IllegalArgumentException("expert bank: padded input must be [N = " + numExperts + ", C, in = " + in + "], got " + Shape.str(x.shape()));
        }
        return F.mul(F.matmul(F.matmul(x, F.mT(a)), F.mT(b)), scaling);
    }

    @Override
    protected String describe() { return "N=" + numExperts + ", in=" + in + ", out=" + out + ", r=" + r + ", scaling=" + scaling; }
}
