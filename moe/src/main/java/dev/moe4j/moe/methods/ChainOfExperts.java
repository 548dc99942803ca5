package dev.moe4j.moe.methods;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.Router;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Chain-of-Experts (Wang et al., "Chain-of-Experts: Unlocking the Communication Power of
 * Mixture-of-Experts Models"): C routing iterations inside one layer, each with its own router, so
 * that a token can pick different experts at each step and later experts work on what earlier ones
 * produced; a residual connection inside the chain keeps each step an update.
 * <pre>
 *   x_0     = x                                       [..., d]
 *   x_{i+1} = MoE_i(x_i) + x_i        i = 0 .. C-1    MoE_i: router_i, then the experts
 *   y       = x_C
 * </pre>
 * By default the C iterations share one set of experts (the paper's setting: the chain reuses the
 * layer's experts, only the routers differ); with {@code expertsPerIteration} each iteration has its
 * own. Each iteration is an {@link MoeLayer} (sub-modules {@code 0 .. C-1}), so its routing, report
 * and balance loss are available per iteration; {@link #auxLoss()} sums them. A shared set of
 * experts appears once in {@link #parameters()} and receives the gradient of every iteration.
 */
public final class ChainOfExperts extends Module {
    private final List<MoeLayer> iterations;

    /**
     * A chain over given iterations (build them sharing a {@link GroupedExperts} instance for shared
     * experts, or with their own).
     *
     * @param iterations the C &gt;= 1 MoE layers, applied in order, all of the same d
     * @throws IllegalArgumentException for no iterations, a null or repeated layer, or differing d
     */
    public ChainOfExperts(List<MoeLayer> iterations) {
        if (iterations == null || iterations.isEmpty()) throw new IllegalArgumentException("a chain of experts needs at least one iteration");
        for (int i = 0; i < iterations.size(); i++) {
            if (iterations.get(i) == null) throw new IllegalArgumentException("iteration " + i + " of the chain is null");
            for (int j = 0; j < i; j++) {
                if (iterations.get(j) == iterations.get(i)) {
                    throw new IllegalArgumentException("iterations " + j + " and " + i + " are the same layer: each iteration needs its own router"
                            + " (share the experts, not the layer)");
                }
            }
        }
        int d = iterations.get(0).hiddenSize();
        List<MoeLayer> copy = new ArrayList<>();
        for (int i = 0; i < iterations.size(); i++) {
            MoeLayer layer = iterations.get(i);
            if (layer.hiddenSize() != d) throw new IllegalArgumentException("iteration " + i + " has d = " + layer.hiddenSize() + ", iteration 0 has d = " + d);
            copy.add(registerModule(String.valueOf(i), layer));
        }
        this.iterations = Collections.unmodifiableList(copy);
    }

    /**
     * A chain of C iterations over softmax top-k routers (one per iteration, renormalised top-k as
     * Mixtral) and SwiGLU experts.
     *
     * @param hiddenSize          d
     * @param intermediateSize    f
     * @param numExperts          E
     * @param k                   experts per token per iteration
     * @param iterations          C &gt;= 1
     * @param expertsPerIteration each iteration with its own experts (false: one shared set, the paper's)
     * @param balancing           the balance losses of each iteration
     * @param dtype               parameter dtype
     * @param seed                seed of all initial weights
     * @param initStd             standard deviation of the initial router and expert weights
     * @return the chain
     * @throws IllegalArgumentException for bad sizes
     */
    public static ChainOfExperts softmaxTopK(int hiddenSize, int intermediateSize, int numExperts, int k, int iterations, boolean expertsPerIteration,
                                             Balancing balancing, DType dtype, long seed, double initStd) {
        if (iterations < 1) throw new IllegalArgumentException("a chain of experts needs C >= 1 iterations, got " + iterations);
        Generator gen = new Generator(seed);
        GroupedExperts shared = expertsPerIteration ? null
                : new GroupedExperts(numExperts, hiddenSize, intermediateSize, ExpertActivation.SILU, true, dtype, gen, initStd);
        List<MoeLayer> layers = new ArrayList<>();
        for (int i = 0; i < iterations; i++) {
            Router router = new SoftmaxTopKRouter(hiddenSize, numExperts, k, true, Capacity.unlimited(), false, dtype, gen, initStd);
            GroupedExperts experts = shared != null ? shared
                    : new GroupedExperts(numExperts, hiddenSize, intermediateSize, ExpertActivation.SILU, true, dtype, gen, initStd);
            layers.add(new MoeLayer(router, "gate", experts, null, "shared_experts", null, balancing, 0, seed + i));
        }
        return new ChainOfExperts(layers);
    }

    /** x [..., d] &rarr; [..., d]: C residual MoE iterations. */
    @Override
    public Tensor forward(Tensor x) {
        Tensor h = x;
        for (MoeLayer layer : iterations) h = F.add(layer.forward(h), h);
        return h;
    }

    /** The sum of the iterations' weighted balance losses of the last forward (0-dim, in the graph). */
    public Tensor auxLoss() {
        Tensor total = null;
        for (MoeLayer layer : iterations) total = total == null ? layer.auxLoss() : F.add(total, layer.auxLoss());
        return total;
    }

    /** C. */
    public int numIterations() { return iterations.size(); }

    /** The MoE layer of iteration i. */
    public MoeLayer iteration(int i) { return iterations.get(i); }

    /** The routing of iteration i in the last forward. @throws IllegalStateException before a forward */
    public Routing lastRouting(int i) { return iterations.get(i).lastRouting(); }

    @Override
    protected String describe() { return "C=" + iterations.size(); }
}
