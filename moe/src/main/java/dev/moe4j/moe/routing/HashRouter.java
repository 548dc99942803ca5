package dev.moe4j.moe.routing;

import dev.moe4j.moe.Routing;
import dev.moe4j.tensor.Tensor;

/**
 * Hash routing (Roller et al., "Hash Layers For Large Sparse Models"): each token goes to one expert
 * picked by a fixed hash of its vocabulary id, with gate weight 1. Nothing is learned and no balance
 * loss is needed; the load follows the token frequencies.
 *
 * <p>The hash is SplitMix64 of (token id + seed), reduced modulo E: a fixed random assignment of the
 * vocabulary to the experts. {@link #route} needs the token ids.
 */
public final class HashRouter extends Router {
    private final int hiddenSize, numExperts;
    private final long seed;
    private final Capacity capacity;

    /**
     * @param hiddenSize d (only checked against the input)
     * @param numExperts E
     * @param seed       selects the random assignment
     * @param capacity   expert capacity ({@link Capacity#unlimited()} for none)
     * @throws IllegalArgumentException for E &lt; 1 or d &lt; 1
     */
    public HashRouter(int hiddenSize, int numExperts, long seed, Capacity capacity) {
        checkSizes(hiddenSize, numExperts, 1);
        if (capacity == null) throw new IllegalArgumentException("capacity is null; use Capacity.unlimited()");
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.seed = seed;
        this.capacity = capacity;
    }

    /** The expert of a vocabulary id. */
    public int expertOf(long tokenId) {
        long z = tokenId + seed + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (int) Math.floorMod(z, (long) numExperts);
    }

    @Override public int numExperts() { return numExperts; }
    @Override public int slotsPerToken() { return 1; }
    @Override public int hiddenSize() { return hiddenSize; }
    @Override public boolean needsTokenIds() { return true; }

    /**
     * @throws IllegalArgumentException when {@code tokenIds} is null or its length is not T
     */
    @Override
    public Routing route(Tensor x, long[] tokenIds) {
        checkInput(x);
        int T = x.size(0);
        if (tokenIds == null) throw new IllegalArgumentException("hash routing needs the token ids of the " + T + " tokens");
        if (tokenIds.length != T) throw new IllegalArgumentException("hash routing got " + tokenIds.length + " token ids for " + T + " tokens");
        int[] ids = new int[T];
        for (int t = 0; t < T; t++) ids[t] = expertOf(tokenIds[t]);
        var plan = Plans.build(ids, null, null, T, 1, numExperts, capacity);
        return new Routing("hash", plan, ids, null, Tensor.ones(x.dtype(), T, 1).to(x.device()), null, null, null, 0);
    }

    @Override
    protected String describe() { return "E=" + numExperts + ", seed=" + seed + ", capacity=" + capacity; }
}
