package dev.moe4j.moe.routing;

import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.ops.TensorArrays;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * Random expert activation, THOR (Zuo et al., "Taming Sparsely Activated Transformer with Stochastic
 * Experts"): no router weights and no balance loss; each token goes to k experts drawn uniformly at
 * random (distinct within a token), each with gate weight 1/k (THOR uses k = 1: the output is the
 * one expert's). Random choice balances the load in expectation by itself. The paper trains with two
 * forward passes under different random draws and a consistency regulariser between them
 * ({@link dev.moe4j.moe.balance.ConsistencyLoss}).
 *
 * <p>Draws: {@link Granularity#TOKEN} draws per token; {@link Granularity#BATCH} draws once per call
 * and sends every token of the batch to the same experts (one expert per layer and step, as the
 * paper describes its training iterations). In training each call draws anew from a generator
 * seeded at construction; in evaluation every call draws from a fresh generator with the same seed,
 * so inference is deterministic (the same batch always routes the same way).
 *
 * <p>On a CUDA device the draws stay on the host (the same generator, so a router and its copy on
 * the device route alike); the plan is built on the host and uploaded, the weights are made on the
 * input's device.
 */
public final class StochasticExpertRouter extends Router {
    /** What one random draw covers. */
    public enum Granularity {
        /** Each token draws its own experts. */
        TOKEN,
        /** One draw per call, shared by every token of the batch. */
        BATCH
    }

    private final int hiddenSize, numExperts, k;
    private final Granularity granularity;
    private final long seed;
    private final Generator trainingDraws;

    /**
     * @param hiddenSize  d (only checked against the input)
     * @param numExperts  E
     * @param k           experts per token, 1 &lt;= k &lt;= E
     * @param granularity per token or per batch
     * @param seed        seed of the draws
     * @throws IllegalArgumentException for E &lt; 1, d &lt; 1, k outside [1, E] or a null granularity
     */
    public StochasticExpertRouter(int hiddenSize, int numExperts, int k, Granularity granularity, long seed) {
        checkSizes(hiddenSize, numExperts, k);
        if (granularity == null) throw new IllegalArgumentException("granularity is null");
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.k = k;
        this.granularity = granularity;
        this.seed = seed;
        this.trainingDraws = new Generator(seed);
    }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return k; }
    @Override public int hiddenSize() { return hiddenSize; }

    /** Per token or per batch. */
    public Granularity granularity() { return granularity; }

    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        int T = x.size(0);
        Generator gen = isTraining() ? trainingDraws : new Generator(seed);
        int[] ids = new int[T * k];
        int[] shared = granularity == Granularity.BATCH ? draw(gen) : null;
        for (int t = 0; t < T; t++) System.arraycopy(shared != null ? shared : draw(gen), 0, ids, t * k, k);
        double[] w = new double[T * k];
        java.util.Arrays.fill(w, 1.0 / k);
        RoutingPlan plan = Plans.build(ids, null, null, T, k, numExperts, Capacity.unlimited());
        return new Routing("stochastic experts (" + granularity.name().toLowerCase(java.util.Locale.ROOT) + ", k=" + k + ")", plan, ids, null,
                TensorArrays.wrap(w, T, k).to(x.dtype()).to(x.device()), null, null, null, 0);
    }

    /** k distinct experts, uniformly: a partial Fisher-Yates shuffle of 0..E-1. */
    private int[] draw(Generator gen) {
        int[] pool = new int[numExperts];
        for (int e = 0; e < numExperts; e++) pool[e] = e;
        for (int j = 0; j < k; j++) {
            int pick = j + gen.nextInt(numExperts - j);
            int tmp = pool[j];
            pool[j] = pool[pick];
            pool[pick] = tmp;
        }
        return java.util.Arrays.copyOf(pool, k);
    }

    @Override
    protected String describe() { return "d=" + hiddenSize + ", E=" + numExperts + ", k=" + k + ", " + granularity + ", seed=" + seed; }
}
