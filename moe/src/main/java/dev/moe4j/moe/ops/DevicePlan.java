package dev.moe4j.moe.ops;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.kernels.cuda.CudaDevice;
import dev.moe4j.kernels.cuda.DeviceBuffer;
import dev.moe4j.kernels.cuda.DeviceRoutingPlan;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaMoe;
import dev.moe4j.tensor.cuda.CudaTensors;

import java.lang.ref.Cleaner;

/**
 * A routing plan whose arrays live on a CUDA device ({@link DeviceRoutingPlan}), with the few
 * numbers the host needs kept on the host: the per-expert demand [E] and offsets [E + 1] (2E + 1
 * ints downloaded), from which the counts, the row count R and the shapes follow. The whole plan
 * comes to the host only when asked for ({@link #toHost()}: printing, reports).
 *
 * <p>Two ways to get one: {@link #build} runs the plan kernels on device expert ids (capacity by
 * position or by score over one group of tokens), {@link #upload} copies a plan built on the host (any capacity rule, selection masks).
 * The device buffers return to the device's cache when this object becomes unreachable (a
 * {@link Cleaner}); as for device storage, that is safe because all work on a device runs on one
 * stream.
 */
public final class DevicePlan {
    private static final Cleaner CLEANER = Cleaner.create();

    private final DeviceRoutingPlan plan;
    private final Device device;
    private final int[] demand, offsets;
    private RoutingPlan host;

    private DevicePlan(DeviceRoutingPlan plan, int[] demand, int[] offsets, RoutingPlan host) {
        this.plan = plan;
        this.device = Device.cuda(plan.device().ordinal());
        this.demand = demand;
        this.offsets = offsets;
        this.host = host;
        CLEANER.register(this, plan::close);
    }

    /**
     * The plan of device expert ids [T, k] (I32) over E experts, built on the device, keeping the
     * first {@code capacity} pairs of each expert in pair order.
     *
     * @param capacity pairs kept per expert, or {@link RoutingPlan#UNLIMITED}
     * @throws IllegalArgumentException for ids that are not an I32 [T, k] CUDA tensor
     * @throws IndexOutOfBoundsException naming the token and slot of an id outside [0, E)
     */
    public static DevicePlan build(Tensor ids, int numExperts, int capacity) {
        return build(ids, null, numExperts, capacity, DropPolicy.BY_POSITION);
    }

    /**
     * The plan of device expert ids [T, k] (I32) over E experts, built on the device, with the
     * capacity applied by {@code policy}: {@link DropPolicy#BY_SCORE} keeps each expert's
     * {@code capacity} pairs of highest gate weight (ties to the earlier pair), as the CPU plan does.
     *
     * @param weights  [T, k] gate weights on the same device (cast to F32), needed under BY_SCORE with a capacity
     * @param capacity pairs kept per expert, or {@link RoutingPlan#UNLIMITED}
     * @throws IllegalArgumentException for ids that are not an I32 [T, k] CUDA tensor, missing weights
     *                                  under BY_SCORE, or a NaN weight (naming its token and slot)
     * @throws IndexOutOfBoundsException naming the token and slot of an id outside [0, E)
     */
    public static DevicePlan build(Tensor ids, Tensor weights, int numExperts, int capacity, DropPolicy policy) {
        if (ids.device().isCpu() || ids.dtype() != DType.I32 || ids.rank() != 2) {
            throw new IllegalArgumentException("device routing plan: ids must be an I32 [T, k] tensor on a CUDA device, got "
                    + ids.dtype() + " " + Shape.str(ids.shape()) + " on " + ids.device());
        }
        boolean byScore = policy == DropPolicy.BY_SCORE && capacity != RoutingPlan.UNLIMITED;
        if (byScore && weights == null) throw new IllegalArgumentException("device routing plan: dropping by score needs the gate weights");
        DeviceRoutingPlan p = byScore
                ? CudaMoe.plan(ids, weights.to(DType.F32).contiguous(), numExperts, capacity, DropPolicy.BY_SCORE)
                : CudaMoe.plan(ids, numExperts, capacity);
        return new DevicePlan(p, p.demand().readInts(numExperts), p.offsets().readInts(numExperts + 1), null);
    }

    /** A host plan copied to CUDA device {@code device}. */
    public static DevicePlan upload(RoutingPlan plan, Device device) {
        if (device.isCpu()) throw new IllegalArgumentException("upload of a routing plan needs a CUDA device, got " + device);
        CudaDevice dev = CudaTensors.device(device.index());
        DeviceBuffer drop = plan.dropped().length == 0 ? null : ints(dev, plan.dropped());
        DeviceRoutingPlan p = new DeviceRoutingPlan(plan.numTokens(), plan.topK(), plan.numExperts(), plan.capacity(), plan.numRows(),
                ints(dev, plan.demand()), ints(dev, plan.counts()), ints(dev, plan.offsets()), ints(dev, plan.rowToPair()),
                ints(dev, plan.pairToRow()), drop);
        return new DevicePlan(p, plan.demand().clone(), plan.offsets().clone(), plan);
    }

    private static DeviceBuffer ints(CudaDevice dev, int[] a) {
        DeviceBuffer b = dev.allocate(4L * Math.max(1, a.length));
        if (a.length > 0) b.write(a);
        return b;
    }

    /** The kernels' view of the plan (its buffers stay owned by this object). */
    public DeviceRoutingPlan kernelPlan() { return plan; }

    /** The device holding the plan. */
    public Device device() { return device; }

    /** T. */
    public int numTokens() { return plan.numTokens(); }

    /** k. */
    public int topK() { return plan.topK(); }

    /** E. */
    public int numExperts() { return plan.numExperts(); }

    /** R, the kept pairs = rows of the permuted matrix. */
    public int numRows() { return plan.numRows(); }

    /** [E + 1] row offsets per expert (a copy, from the host copy). */
    public int[] offsets() { return offsets.clone(); }

    /** [E] pairs kept per expert (a copy). */
    public int[] counts() {
        int[] c = new int[offsets.length - 1];
        for (int e = 0; e < c.length; e++) c[e] = offsets[e + 1] - offsets[e];
        return c;
    }

    /** [E] pairs routed to each expert before capacity (a copy). */
    public int[] demand() { return demand.clone(); }

    /** The whole plan on the host (downloaded once, then kept). */
    public synchronized RoutingPlan toHost() {
        if (host == null) host = plan.toHost();
        return host;
    }
}
