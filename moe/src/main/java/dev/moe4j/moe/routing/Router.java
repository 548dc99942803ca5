package dev.moe4j.moe.routing;

import dev.moe4j.autograd.nn.Module;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.DevicePlan;
import dev.moe4j.moe.ops.Gate;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * A router: decides for each of T tokens which experts process it and with which gate weights, as a
 * {@link Routing} (expert ids, weights, and the routing plan that permute, the grouped expert GEMMs
 * and combine consume). Trainable routers hold their weights as parameters of this module; the
 * training flag ({@link #train}, {@link #eval}) switches training-only behaviour such as noise.
 */
public abstract class Router extends Module {
    /** Whether NaN router logits throw instead of being routed. */
    protected boolean failOnNaN = true;

    /** Creates the router module. */
    protected Router() {}

    /**
     * Whether a NaN router logit throws {@link IllegalArgumentException} naming its token and expert
     * (fail fast, the default) instead of being routed (NaN ranks above every number, as in
     * {@code torch.topk}). Returns this.
     */
    public Router failOnNaN(boolean on) {
        this.failOnNaN = on;
        return this;
    }

    /** Whether NaN logits throw. */
    public boolean failsOnNaN() { return failOnNaN; }

    /** E, the number of real experts. */
    public abstract int numExperts();

    /** k, the slots per token of the plans this router builds. */
    public abstract int slotsPerToken();

    /** The hidden size d of the tokens this router reads. */
    public abstract int hiddenSize();

    /**
     * Routes a batch of tokens.
     *
     * @param x        [T, d] token activations
     * @param tokenIds [T] vocabulary ids of the tokens (needed by hash routing only), or null
     * @return the routing of the T tokens
     * @throws IllegalArgumentException for an input that does not fit the router
     */
    public abstract Routing route(Tensor x, long[] tokenIds);

    /** {@link #route(Tensor, long[])} without token ids. */
    public Routing route(Tensor x) { return route(x, null); }

    /** The gate weights [T, k] of {@link #route(Tensor)}. */
    @Override
    public Tensor forward(Tensor x) { return route(x).weights(); }

    /**
     * The per-expert selection bias [E] this router adds to its scores when choosing experts (the
     * auxiliary-loss-free balancing bias), or null when it has none.
     */
    public Tensor selectionBias() { return null; }

    /** Whether {@link #route} needs token ids. */
    public boolean needsTokenIds() { return false; }

    /**
     * Checks that {@code x} is [T, d] with this router's d.
     *
     * @throws IllegalArgumentException naming the shapes otherwise
     */
    protected final void checkInput(Tensor x) {
        if (x.rank() != 2 || x.size(1) != hiddenSize()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": tokens must be [T, d = " + hiddenSize() + "], got " + Shape.str(x.shape()));
        }
    }

    /**
     * Checks the sizes every router shares.
     *
     * @throws IllegalArgumentException for d &lt; 1, E &lt; 1 or k outside [1, E]
     */
    protected static void checkSizes(int hiddenSize, int numExperts, int k) {
        if (numExperts < 1) throw new IllegalArgumentException("the number of experts E must be >= 1, got " + numExperts);
        if (hiddenSize < 1) throw new IllegalArgumentException("the hidden size d must be >= 1, got " + hiddenSize);
        if (k < 1) throw new IllegalArgumentException("k (experts per token) must be >= 1, got " + k);
        if (k > numExperts) throw new IllegalArgumentException("k = " + k + " exceeds the number of experts E = " + numExperts);
    }

    /** The bias buffer's values as doubles (downloaded from a device), or null. */
    protected static double[] biasValues(Tensor bias) {
        return bias == null ? null : bias.cpu().toDoubleArray();
    }

    /**
     * The routing of a token-choice {@link Gate} that has run on {@code logits}, with its plan under
     * {@code capacity}. After a gate on a CUDA device, the plan is built there from the device ids
     * when the capacity rule is one the plan kernels apply (no limit, or one group of tokens dropping by
     * position or by score); otherwise (and on the CPU) the ids, and the weights when dropping by score, come to
     * the host and {@link Plans#build} makes the plan, which the layer uploads when it needs it.
     *
     * @param name     the router's name, for printing
     * @param gate     the gate after {@code gate.apply(logits)}
     * @param weights  [T, k] the gate's output
     * @param logits   [T, E] router logits
     * @param bias     [E] selection bias or null
     * @param T        tokens
     * @param k        slots per token
     * @param E        experts
     * @param capacity the capacity rule
     */
    protected static Routing tokenChoice(String name, Gate gate, Tensor weights, Tensor logits, double[] bias, int T, int k, int E,
                                         Capacity capacity) {
        Tensor deviceIds = gate.deviceIds();
        if (deviceIds != null && devicePlanFits(capacity, T)) {
            int c = capacity.isUnlimited() ? RoutingPlan.UNLIMITED : capacity.perExpert(T, k, E);
            return new Routing(name, DevicePlan.build(deviceIds, weights, E, c, capacity.policy()), deviceIds, weights, logits, gate.scores(), bias);
        }
        int[] ids = gate.ids();
        var plan = Plans.build(ids, null, capacity.isUnlimited() ? null : weights.cpu().toDoubleArray(), T, k, E, capacity);
        return new Routing(name, plan, ids, null, weights, logits, gate.scores(), bias, 0);
    }

    /** Whether the device plan kernels apply {@code capacity} to T tokens: no limit, or one group of tokens (by position or by score). */
    static boolean devicePlanFits(Capacity capacity, int T) {
        return capacity.isUnlimited() || capacity.groupSize() == 0 || capacity.groupSize() >= T;
    }
}
