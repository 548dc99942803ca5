package dev.moe4j.kernels.cuda;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;

/**
 * Launchers of {@code cuda-src/routing.cu}: the routing plan (histogram, scan, stable scatter,
 * capacity by position) and the row movements that use it, the device versions of the CPU's
 * {@link RoutingPlan}, {@link dev.moe4j.kernels.cpu.moe.Permute} and
 * {@link dev.moe4j.kernels.cpu.moe.Combine}.
 *
 * <h2>Shapes (device buffers, row-major; {@code type} F32 or BF16)</h2>
 * <pre>
 *   ids      [T, k] int          expert of each (token, slot)
 *   x, dx    [T, d] type         token rows        xPerm, dxPerm  [R, d] type   expert-sorted rows
 *   weights  [T, k] float        gate weights      dWeights       [T, k] float
 *   yPerm    [R, d] type         expert outputs    y, dy          [T, d] type
 * </pre>
 * Every kernel writes each output element from one thread and sums slots in slot order: results are
 * identical run to run, and permute, unpermute-sum and combine equal the CPU reference bit for bit
 * in float (up to the sign of a zero). Outputs must not overlap inputs.
 *
 * <p>{@link #plan} waits for the device once (R must be known on the host to size the permuted
 * rows), and throws {@link IndexOutOfBoundsException} for an expert id outside [0, E) (and, under
 * {@link DropPolicy#BY_SCORE}, {@link IllegalArgumentException} for a NaN gate weight) before the
 * scatter runs. Capacity drops by position ({@link DropPolicy#BY_POSITION}) or by gate weight
 * ({@link DropPolicy#BY_SCORE}); either way the plan equals the CPU's exactly.
 */
public final class CudaRouting {
    private CudaRouting() {}

    private static final String MODULE = "routing";

    /**
     * The routing plan of {@code ids} [T, k] over E experts, keeping at most {@code capacity} pairs per
     * expert by position ({@link RoutingPlan#UNLIMITED} for no limit).
     *
     * @throws IllegalArgumentException for bad sizes or a capacity below -1
     * @throws IndexOutOfBoundsException naming the token and slot of an expert id outside [0, E)
     */
    public static DeviceRoutingPlan plan(DeviceBuffer ids, int numTokens, int topK, int numExperts, int capacity) {
        return plan(ids, null, numTokens, topK, numExperts, capacity, DropPolicy.BY_POSITION);
    }

    /**
     * The routing plan of {@code ids} [T, k] over E experts with expert capacity C chosen by
     * {@code policy}: {@link DropPolicy#BY_POSITION} keeps each expert's first C pairs in pair order,
     * {@link DropPolicy#BY_SCORE} its C pairs of highest gate weight (equal weights: lower pair index
     * first), the kept pairs in pair order in the expert's rows. The same plan as the CPU's
     * {@link RoutingPlan#build(int[], float[], int, int, int, int, DropPolicy)}, array for array.
     *
     * @param weights  [T, k] float gate weights; needed by BY_SCORE under a capacity, ignored otherwise (may be null)
     * @param capacity C &gt;= 0, or {@link RoutingPlan#UNLIMITED}
     * @throws IllegalArgumentException for bad sizes, a capacity below -1, a null policy, missing weights under
     *         BY_SCORE, or (found on the device) a NaN gate weight under BY_SCORE, naming its token and slot
     * @throws IndexOutOfBoundsException naming the token and slot of an expert id outside [0, E)
     */
    public static DeviceRoutingPlan plan(DeviceBuffer ids, DeviceBuffer weights, int numTokens, int topK, int numExperts,
                                         int capacity, DropPolicy policy) {
        boolean byScore = checkPlan(ids, weights, numTokens, topK, numExperts, capacity, policy);
        CudaDevice dev = ids.device();
        if (byScore) Checks.sameDevice(ids, weights);
        int pairs = numTokens * topK, E = numExperts;
        int chunks = LaunchGeometry.routingChunks(pairs);
        DeviceBuffer demand = dev.allocate(4L * E), counts = dev.allocate(4L * E), offsets = dev.allocate(4L * (E + 1));
        DeviceBuffer pairToRow = dev.allocate(4L * pairs), rowToPairAll = dev.allocate(4L * pairs);
        boolean ok = false;
        try (DeviceBuffer chunkCounts = dev.allocate(4L * chunks * E); DeviceBuffer chunkBase = dev.allocate(4L * chunks * E);
             DeviceBuffer chunkDropped = dev.allocate(4L * chunks); DeviceBuffer bad = dev.allocate(8);
             DeviceBuffer byExpert = byScore ? dev.allocate(4L * pairs) : null;
             DeviceBuffer demandOffsets = byScore ? dev.allocate(4L * (E + 1)) : null;
             DeviceBuffer allCounts = byScore ? dev.allocate(4L * E) : null) {
            bad.fill32(Integer.MAX_VALUE);
            if (pairs == 0) {
                demand.zero();
                counts.zero();
                offsets.zero();
            } else {
                dev.launch(MODULE, "moe_routing_chunk_histogram", LaunchGeometry.routingPerChunk(pairs), 4 * E,
                        ids, byScore ? weights : null, pairs, E, LaunchGeometry.ROUTING_CHUNK, chunkCounts, bad);
                if (byScore) {                            // where each expert's pairs go when all are kept
                    dev.launch(MODULE, "moe_routing_scan", LaunchGeometry.routingScan(E), 0,
                            chunkCounts, chunks, E, RoutingPlan.UNLIMITED, chunkBase, demand, allCounts, demandOffsets);
                }
                dev.launch(MODULE, "moe_routing_scan", LaunchGeometry.routingScan(E), 0,
                        chunkCounts, chunks, E, capacity, chunkBase, demand, counts, offsets);
            }
            int[] firstBad = bad.readInts(2);
            if (firstBad[1] != Integer.MAX_VALUE) {
                throw new IllegalArgumentException("gate weight is NaN at token " + firstBad[1] / topK + ", slot " + firstBad[1] % topK);
            }
            if (firstBad[0] != Integer.MAX_VALUE) {
                int[] id = new int[1];
                ids.read(4L * firstBad[0], id, 0, 1);
                throw new IndexOutOfBoundsException("expert id " + id[0] + " at token " + firstBad[0] / topK + ", slot " + firstBad[0] % topK
                        + " is outside [0, " + E + ")");
            }
            int[] r = new int[1];
            offsets.read(4L * E, r, 0, 1);
            int rows = r[0];
            DeviceBuffer dropped = null;
            if (pairs > 0) {
                if (byScore) {
                    dev.launch(MODULE, "moe_routing_scatter", LaunchGeometry.routingPerChunk(pairs), 4 * E,
                            ids, pairs, E, LaunchGeometry.ROUTING_CHUNK, RoutingPlan.UNLIMITED, chunkBase, demandOffsets, byExpert,
                            pairToRow, chunkDropped);
                    dev.launch(MODULE, "moe_routing_select_by_score", LaunchGeometry.routingPerExpert(E), 0,
                            byExpert, demandOffsets, demand, weights, capacity, offsets, rowToPairAll, pairToRow);
                    if (rows < pairs) {
                        dev.launch(MODULE, "moe_routing_count_dropped", LaunchGeometry.routingPerChunk(pairs), 0,
                                pairToRow, pairs, LaunchGeometry.ROUTING_CHUNK, chunkDropped);
                    }
                } else {
                    dev.launch(MODULE, "moe_routing_scatter", LaunchGeometry.routingPerChunk(pairs), 4 * E,
                            ids, pairs, E, LaunchGeometry.ROUTING_CHUNK, capacity, chunkBase, offsets, rowToPairAll, pairToRow, chunkDropped);
                }
                if (rows < pairs) {
                    dropped = dev.allocate(4L * (pairs - rows));
                    dev.launch(MODULE, "moe_routing_dropped", LaunchGeometry.routingPerChunk(pairs), 0,
                            pairToRow, pairs, LaunchGeometry.ROUTING_CHUNK, chunkDropped, dropped);
                }
            }
            DeviceRoutingPlan plan = new DeviceRoutingPlan(numTokens, topK, E, capacity, rows, demand, counts, offsets,
                    rowToPairAll, pairToRow, dropped);
            ok = true;
            return plan;
        } finally {
            if (!ok) {
                demand.close(); counts.close(); offsets.close(); pairToRow.close(); rowToPairAll.close();
            }
        }
    }

    /** Checks of {@link #plan(DeviceBuffer, int, int, int, int)}, without a device. */
    static void checkPlan(DeviceBuffer ids, int numTokens, int topK, int numExperts, int capacity) {
        checkPlan(ids, null, numTokens, topK, numExperts, capacity, DropPolicy.BY_POSITION);
    }

    /**
     * Checks of {@link #plan(DeviceBuffer, DeviceBuffer, int, int, int, int, DropPolicy)}, without a device;
     * returns whether the capacity drops by score (a capacity is set and the policy is BY_SCORE).
     */
    static boolean checkPlan(DeviceBuffer ids, DeviceBuffer weights, int numTokens, int topK, int numExperts, int capacity,
                             DropPolicy policy) {
        if (numTokens < 0 || topK < 1 || numExperts < 1) {
            throw new IllegalArgumentException("need T >= 0, k >= 1, E >= 1, got T = " + numTokens + ", k = " + topK + ", E = " + numExperts);
        }
        if (capacity < RoutingPlan.UNLIMITED) throw new IllegalArgumentException("capacity must be >= 0 or UNLIMITED (-1), got " + capacity);
        if (policy == null) throw new IllegalArgumentException("policy is null");
        long pairs = (long) numTokens * topK;
        Checks.toInt("T * k", pairs);
        if (4L * numExperts > 48 * 1024) throw new IllegalArgumentException("the plan kernels keep E ints in shared memory: E = " + numExperts + " > 12288");
        String shape = "[T, k] = [" + numTokens + ", " + topK + "]";
        Checks.buffer("ids", ids, pairs, 4, shape);
        boolean byScore = capacity != RoutingPlan.UNLIMITED && policy == DropPolicy.BY_SCORE;
        if (byScore) {
            if (weights == null) throw new IllegalArgumentException("DropPolicy.BY_SCORE needs the gate weights " + shape);
            Checks.buffer("weights", weights, pairs, 4, shape);
        }
        return byScore;
    }

    // ------------------------------------------------------------------ permute

    /** {@code xPerm[r, :] = x[token(r), :]}, the fastest version. */
    public static void permute(DeviceRoutingPlan plan, CudaDType type, DeviceBuffer x, int d, DeviceBuffer xPerm) {
        permute(plan, type, x, d, xPerm, KernelVersion.AUTO);
    }

    /**
     * {@code xPerm[r, :] = x[token(r), :]}: v1 element per thread, v2 16-byte vectors (needs rows of a
     * multiple of 16 bytes and 16-byte aligned buffers; AUTO falls back to v1 otherwise).
     */
    public static void permute(DeviceRoutingPlan plan, CudaDType type, DeviceBuffer x, int d, DeviceBuffer xPerm,
                               KernelVersion version) {
        checkRows(plan, type, d, "x", x, true, "xPerm", xPerm, false);
        CudaDevice dev = Checks.sameDevice(plan.offsets(), x, xPerm);
        if (plan.numRows() == 0 || d == 0) return;
        long rowBytes = (long) d * type.bytes();
        boolean vec = rowBytes % 16 == 0 && x.isAligned(16) && xPerm.isAligned(16);
        int v = pick(version, vec, "permute v2 needs rows of a multiple of 16 bytes and 16-byte aligned buffers");
        if (v == 2) {
            int vecs = (int) (rowBytes / 16);
            dev.launch(MODULE, "moe_permute_v2", LaunchGeometry.permuteV2(plan.numRows(), vecs), 0,
                    x, plan.rowToPair(), plan.numRows(), plan.topK(), vecs, xPerm);
        } else {
            dev.launch(MODULE, type == CudaDType.F32 ? "moe_permute_v1_f32" : "moe_permute_v1_b16",
                    LaunchGeometry.elementwise((long) plan.numRows() * d), 0, x, plan.rowToPair(), plan.numRows(), plan.topK(), d, xPerm);
        }
    }

    /** The unpermute-sum {@code dx[t, :] = sum over kept slots j in order of dxPerm[row(t, j), :]}, fastest version. */
    public static void permuteBackward(DeviceRoutingPlan plan, CudaDType type, DeviceBuffer dxPerm, int d, DeviceBuffer dx) {
        permuteBackward(plan, type, dxPerm, d, dx, KernelVersion.AUTO);
    }

    /** The unpermute-sum with a chosen version (v2: d a multiple of the vector width, aligned buffers). */
    public static void permuteBackward(DeviceRoutingPlan plan, CudaDType type, DeviceBuffer dxPerm, int d, DeviceBuffer dx,
                                       KernelVersion version) {
        checkRows(plan, type, d, "dxPerm", dxPerm, false, "dx", dx, true);
        CudaDevice dev = Checks.sameDevice(plan.offsets(), dxPerm, dx);
        if (plan.numTokens() == 0 || d == 0) return;
        int v = pick(version, vectorizable(type, d, dxPerm, dx), "v2 needs d a multiple of " + type.perVector() + " and 16-byte aligned buffers");
        int per = v == 2 ? type.perVector() : 1;
        dev.launch(MODULE, "moe_permute_backward_v" + v + "_" + type.suffix(), LaunchGeometry.tokenRows(plan.numTokens(), d, per), 0,
                dxPerm, plan.pairToRow(), plan.numTokens(), plan.topK(), d, dx);
    }

    // ------------------------------------------------------------------ combine

    /** {@code y[t, :] = sum over kept slots j in order of w[t, j] * yPerm[row(t, j), :]}, fastest version. */
    public static void combine(DeviceRoutingPlan plan, CudaDType type, DeviceBuffer weights, DeviceBuffer yPerm, int d, DeviceBuffer y) {
        combine(plan, type, weights, yPerm, d, y, KernelVersion.AUTO);
    }

    /** The combine with a chosen version. */
    public static void combine(DeviceRoutingPlan plan, CudaDType type, DeviceBuffer weights, DeviceBuffer yPerm, int d,
                               DeviceBuffer y, KernelVersion version) {
        checkRows(plan, type, d, "yPerm", yPerm, false, "y", y, true);
        Checks.buffer("weights", weights, plan.numPairs(), 4, pairsShape(plan));
        CudaDevice dev = Checks.sameDevice(plan.offsets(), weights, yPerm, y);
        if (plan.numTokens() == 0 || d == 0) return;
        int v = pick(version, vectorizable(type, d, yPerm, y), "v2 needs d a multiple of " + type.perVector() + " and 16-byte aligned buffers");
        int per = v == 2 ? type.perVector() : 1;
        dev.launch(MODULE, "moe_combine_v" + v + "_" + type.suffix(), LaunchGeometry.tokenRows(plan.numTokens(), d, per), 0,
                weights, yPerm, plan.pairToRow(), plan.numTokens(), plan.topK(), d, y);
    }

    /**
     * Combine backward, fastest version: {@code dyPerm[row(t, j), :] = w[t, j] * dy[t, :]} and
     * {@code dWeights[t, j] = dot(dy[t, :], yPerm[row(t, j), :])} (0 for a dropped slot); either output may be null.
     */
    public static void combineBackward(DeviceRoutingPlan plan, CudaDType type, DeviceBuffer weights, DeviceBuffer yPerm,
                                       DeviceBuffer dy, int d, DeviceBuffer dyPerm, DeviceBuffer dWeights) {
        combineBackward(plan, type, weights, yPerm, dy, d, dyPerm, dWeights, KernelVersion.AUTO);
    }

    /** Combine backward with a chosen version. */
    public static void combineBackward(DeviceRoutingPlan plan, CudaDType type, DeviceBuffer weights, DeviceBuffer yPerm,
                                       DeviceBuffer dy, int d, DeviceBuffer dyPerm, DeviceBuffer dWeights, KernelVersion version) {
        checkRows(plan, type, d, "yPerm", yPerm, false, "dy", dy, true);
        Checks.buffer("weights", weights, plan.numPairs(), 4, pairsShape(plan));
        Checks.optional("dyPerm", dyPerm, (long) plan.numRows() * d, type.bytes(), "[R, d] = [" + plan.numRows() + ", " + d + "]");
        Checks.optional("dWeights", dWeights, plan.numPairs(), 4, pairsShape(plan));
        CudaDevice dev = Checks.sameDevice(plan.offsets(), weights, yPerm, dy, dyPerm, dWeights);
        if (plan.numTokens() == 0 || (dyPerm == null && dWeights == null)) return;
        boolean vec = vectorizable(type, d, yPerm, dy) && (dyPerm == null || dyPerm.isAligned(16));
        int v = pick(version, vec, "v2 needs d a multiple of " + type.perVector() + " and 16-byte aligned buffers");
        dev.launch(MODULE, "moe_combine_backward_v" + v + "_" + type.suffix(), LaunchGeometry.warpPerToken(plan.numTokens()), 0,
                weights, yPerm, dy, plan.pairToRow(), plan.numTokens(), plan.topK(), d, dyPerm, dWeights);
    }

    // ------------------------------------------------------------------ checks

    private static String pairsShape(DeviceRoutingPlan plan) {
        return "[T, k] = [" + plan.numTokens() + ", " + plan.topK() + "]";
    }

    private static boolean vectorizable(CudaDType type, int d, DeviceBuffer a, DeviceBuffer b) {
        return d % type.perVector() == 0 && a.isAligned(16) && b.isAligned(16);
    }

    /** 1 or 2 for v1 / v2 (AUTO: 2 when {@code vectorOk}). */
    static int pick(KernelVersion version, boolean vectorOk, String why) {
        return switch (version) {
            case AUTO -> vectorOk ? 2 : 1;
            case V1 -> 1;
            case V2 -> {
                if (!vectorOk) throw new IllegalArgumentException(why);
                yield 2;
            }
            case V3, V4 -> throw new IllegalArgumentException("the row kernels have versions 1 and 2, not " + version.name().substring(1));
        };
    }

    /** Checks a token-rows buffer [T, d] and a permuted-rows buffer [R, d] against the plan. */
    static void checkRows(DeviceRoutingPlan plan, CudaDType type, int d, String aName, DeviceBuffer a, boolean aTokens,
                          String bName, DeviceBuffer b, boolean bTokens) {
        if (plan == null) throw new IllegalArgumentException("routing plan is null");
        if (type == null) throw new IllegalArgumentException("element type is null");
        if (d < 0) throw new IllegalArgumentException("row width d must be >= 0, got " + d);
        Checks.toInt("max(T, R) * d", (long) Math.max(plan.numTokens(), plan.numRows()) * d);
        check(plan, type, d, aName, a, aTokens);
        check(plan, type, d, bName, b, bTokens);
    }

    private static void check(DeviceRoutingPlan plan, CudaDType type, int d, String name, DeviceBuffer buf, boolean tokens) {
        int rows = tokens ? plan.numTokens() : plan.numRows();
        Checks.buffer(name, buf, (long) rows * d, type.bytes(), (tokens ? "[T, d] = [" : "[R, d] = [") + rows + ", " + d + "]");
    }
}
