package dev.moe4j.kernels.cuda;

import dev.moe4j.kernels.cpu.moe.RoutingPlan;

/**
 * A {@link RoutingPlan} whose arrays live on a device (built by {@link CudaRouting#plan}); the sizes
 * are known on the host. Array meanings are those of {@link RoutingPlan}:
 * <pre>
 *   demand [E], counts [E], offsets [E + 1], rowToPair [R], pairToRow [T * k], dropped [T * k - R]   (ints)
 * </pre>
 * {@code dropped} is null when no pair was dropped. {@link #close()} returns the buffers to the cache.
 *
 * @param numTokens  T
 * @param topK       k
 * @param numExperts E
 * @param capacity   C, or {@link RoutingPlan#UNLIMITED}
 * @param numRows    R, the number of kept pairs
 */
public record DeviceRoutingPlan(int numTokens, int topK, int numExperts, int capacity, int numRows,
                                DeviceBuffer demand, DeviceBuffer counts, DeviceBuffer offsets,
                                DeviceBuffer rowToPair, DeviceBuffer pairToRow, DeviceBuffer dropped)
        implements AutoCloseable {

    /** T * k. */
    public int numPairs() { return numTokens * topK; }

    /** The device holding the plan. */
    public CudaDevice device() { return offsets.device(); }

    /** Copies the plan to the host (for printing and checking). */
    public RoutingPlan toHost() {
        int pairs = numPairs();
        int[] drop = dropped == null ? new int[0] : dropped.readInts(pairs - numRows);
        return new RoutingPlan(numTokens, topK, numExperts, capacity, demand.readInts(numExperts), counts.readInts(numExperts),
                offsets.readInts(numExperts + 1), rowToPair.readInts(numRows), pairToRow.readInts(pairs), drop);
    }

    @Override
    public void close() {
        demand.close();
        counts.close();
        offsets.close();
        rowToPair.close();
        pairToRow.close();
        if (dropped != null) dropped.close();
    }
}
