package dev.moe4j.tensor.cuda;

import dev.moe4j.kernels.cpu.GroupedGemm.Layout;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cuda.CudaDType;
import dev.moe4j.kernels.cuda.CudaGating;
import dev.moe4j.kernels.cuda.CudaGroupedGemm;
import dev.moe4j.kernels.cuda.CudaRouting;
import dev.moe4j.kernels.cuda.DeviceBuffer;
import dev.moe4j.kernels.cuda.DeviceRoutingPlan;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Devices;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The MoE kernels of {@code cuda-src} on device tensors: gating, the routing plan, permute and
 * combine with their backward passes, and the grouped expert GEMM with both backward products. Each
 * method checks shapes, dtypes and devices first ({@link IllegalArgumentException} naming them),
 * makes non-contiguous operands contiguous, and returns new contiguous device tensors. Shapes and
 * semantics are those of the CPU kernels in {@code dev.moe4j.kernels.cpu.moe} and
 * {@code dev.moe4j.kernels.cpu.GroupedGemm}.
 *
 * <pre>
 *   logits [T, E] F32 -> weights [T, k] F32, ids [T, k] I32, counts [E] I32, scores [T, E] F32
 *   ids [T, k] I32 -> DeviceRoutingPlan (R rows)
 *   x [T, d] -> xPerm [R, d] -> (grouped GEMM with w [E, K, N] or [E, N, K]) -> yPerm [R, N] -> y [T, N]
 * </pre>
 * Activations and expert weights are F32 or BF16 (one dtype per call); gate weights are F32.
 */
public final class CudaMoe {
    private CudaMoe() {}

    /**
     * Gating outputs.
     *
     * @param weights [T, k] F32 gate weights
     * @param ids     [T, k] I32 expert ids
     * @param counts  [E] I32 tokens per expert
     * @param scores  [T, E] F32 scores (null when not kept)
     */
    public record Gate(Tensor weights, Tensor ids, Tensor counts, Tensor scores) {}

    /** Gradients of the combine. @param dyPerm [R, d] @param dWeights [T, k] F32 */
    public record CombineGrads(Tensor dyPerm, Tensor dWeights) {}

    // ------------------------------------------------------------------ gating

    /**
     * Token-choice gating of {@code logits} [T, E] (F32) with an optional selection {@code bias} [E] (F32).
     *
     * @param keepScores keep the scores [T, E] for {@link #gatingBackward}
     */
    public static Gate gating(GatingConfig config, Tensor logits, Tensor bias, boolean keepScores) {
        Devices.requireSame("gating", logits, bias);
        requireCuda("gating", logits);
        require2d("logits", logits, DType.F32);
        int T = logits.size(0), E = logits.size(1);
        if (config == null) throw new IllegalArgumentException("config is null");
        config.validate(E);
        if (bias != null && (bias.rank() != 1 || bias.size(0) != E || bias.dtype() != DType.F32)) {
            throw new IllegalArgumentException("bias must be F32 [E] = [" + E + "], got " + bias.dtype() + " " + Shape.str(bias.shape()));
        }
        int dev = logits.device().index(), k = config.k();
        Tensor w = CudaTensors.empty(DType.F32, dev, T, k), ids = CudaTensors.empty(DType.I32, dev, T, k);
        Tensor counts = CudaTensors.empty(DType.I32, dev, E);
        Tensor scores = keepScores ? CudaTensors.empty(DType.F32, dev, T, E) : null;
        CudaGating.forward(config, buf(logits), T, E, bias == null ? null : buf(bias), scores == null ? null : buf(scores),
                buf(w), buf(ids), buf(counts));
        return new Gate(w, ids, counts, scores);
    }

    /** dLogits [T, E] from the scores [T, E] and ids [T, k] of the forward and dWeights [T, k] (all F32 / I32). */
    public static Tensor gatingBackward(GatingConfig config, Tensor scores, Tensor ids, Tensor dWeights) {
        Devices.requireSame("gating backward", scores, ids, dWeights);
        requireCuda("gating backward", scores);
        require2d("scores", scores, DType.F32);
        int T = scores.size(0), E = scores.size(1);
        requireShape("ids", ids, DType.I32, T, config.k());
        requireShape("dWeights", dWeights, DType.F32, T, config.k());
        Tensor dl = CudaTensors.empty(DType.F32, scores.device().index(), T, E);
        CudaGating.backward(config, buf(scores), T, E, buf(ids), buf(dWeights), buf(dl));
        return dl;
    }

    // ------------------------------------------------------------------ routing

    /** The routing plan of {@code ids} [T, k] (I32) over E experts, capacity by position or {@code -1} for none. */
    public static DeviceRoutingPlan plan(Tensor ids, int numExperts, int capacity) {
        requireCuda("routing plan", ids);
        require2d("ids", ids, DType.I32);
        return CudaRouting.plan(buf(ids), ids.size(0), ids.size(1), numExperts, capacity);
    }

    /**
     * The routing plan of {@code ids} [T, k] (I32) over E experts with capacity {@code capacity} ({@code -1}
     * for none) chosen by {@code policy}; {@link DropPolicy#BY_SCORE} keeps each expert's pairs of highest
     * gate weight in {@code weights} [T, k] (F32; may be null under BY_POSITION or without a capacity).
     */
    public static DeviceRoutingPlan plan(Tensor ids, Tensor weights, int numExperts, int capacity, DropPolicy policy) {
        requireCuda("routing plan", ids);
        require2d("ids", ids, DType.I32);
        if (weights != null) {
            requireShape("weights", weights, DType.F32, ids.size(0), ids.size(1));
            Devices.requireSame("routing plan", ids, weights);
        }
        return CudaRouting.plan(buf(ids), weights == null ? null : buf(weights), ids.size(0), ids.size(1), numExperts, capacity, policy);
    }

    /** {@code xPerm [R, d] = x[token(r), :]}. */
    public static Tensor permute(DeviceRoutingPlan plan, Tensor x) {
        requireRows("x", x, plan, plan.numTokens());
        Tensor out = CudaTensors.empty(x.dtype(), x.device().index(), plan.numRows(), x.size(1));
        CudaRouting.permute(plan, type(x), buf(x), x.size(1), buf(out));
        return out;
    }

    /** The unpermute-sum: {@code dx [T, d]} from {@code dxPerm [R, d]}. */
    public static Tensor permuteBackward(DeviceRoutingPlan plan, Tensor dxPerm) {
        requireRows("dxPerm", dxPerm, plan, plan.numRows());
        Tensor out = CudaTensors.empty(dxPerm.dtype(), dxPerm.device().index(), plan.numTokens(), dxPerm.size(1));
        CudaRouting.permuteBackward(plan, type(dxPerm), buf(dxPerm), dxPerm.size(1), buf(out));
        return out;
    }

    /** {@code y [T, d]}: each token's expert rows weighted by its gate weights [T, k] (F32), summed in slot order. */
    public static Tensor combine(DeviceRoutingPlan plan, Tensor weights, Tensor yPerm) {
        requireRows("yPerm", yPerm, plan, plan.numRows());
        requireShape("weights", weights, DType.F32, plan.numTokens(), plan.topK());
        Devices.requireSame("combine", weights, yPerm);
        Tensor out = CudaTensors.empty(yPerm.dtype(), yPerm.device().index(), plan.numTokens(), yPerm.size(1));
        CudaRouting.combine(plan, type(yPerm), buf(weights), buf(yPerm), yPerm.size(1), buf(out));
        return out;
    }

    /** Gradients of {@link #combine}: {@code dyPerm [R, d]} and {@code dWeights [T, k]}. */
    public static CombineGrads combineBackward(DeviceRoutingPlan plan, Tensor weights, Tensor yPerm, Tensor dy) {
        requireRows("yPerm", yPerm, plan, plan.numRows());
        requireRows("dy", dy, plan, plan.numTokens());
        requireShape("weights", weights, DType.F32, plan.numTokens(), plan.topK());
        Devices.requireSame("combine backward", weights, yPerm, dy);
        if (dy.dtype() != yPerm.dtype() || dy.size(1) != yPerm.size(1)) {
            throw new IllegalArgumentException("dy " + dy.dtype() + " " + Shape.str(dy.shape()) + " does not match yPerm " + yPerm.dtype() + " " + Shape.str(yPerm.shape()));
        }
        int dev = dy.device().index(), d = dy.size(1);
        Tensor dyPerm = CudaTensors.empty(yPerm.dtype(), dev, plan.numRows(), d);
        Tensor dw = CudaTensors.empty(DType.F32, dev, plan.numTokens(), plan.topK());
        CudaRouting.combineBackward(plan, type(yPerm), buf(weights), buf(yPerm), buf(dy), d, buf(dyPerm), buf(dw));
        return new CombineGrads(dyPerm, dw);
    }

    // ------------------------------------------------------------------ grouped GEMM

    /** {@code y [R, N] = x [R, K] * w_e} per expert row range of the plan; {@code w} is [E, K, N] (KN) or [E, N, K] (NK). */
    public static Tensor groupedGemm(DeviceRoutingPlan plan, Tensor x, Tensor w, Layout layout) {
        return groupedGemm(plan.offsets(), plan.numExperts(), x, w, layout);
    }

    /**
     * {@code y [M, N] = x [M, K] * w_g} per group of rows given by {@code offsets} [G + 1] (device ints,
     * non-decreasing within [0, M]), e.g. the segments of a multi-adapter LoRA batch.
     */
    public static Tensor groupedGemm(DeviceBuffer offsets, int groups, Tensor x, Tensor w, Layout layout) {
        Devices.requireSame("grouped GEMM", x, w);
        int[] kn = weightDims(w, groups, layout);
        requireShape("x", x, w.dtype(), x.size(0), kn[0]);
        Tensor y = CudaTensors.empty(x.dtype(), x.device().index(), x.size(0), kn[1]);
        if (x.size(0) > 0 && kn[1] > 0 && kn[0] == 0) storageOf(y).zero();
        else CudaGroupedGemm.forward(type(x), offsets, groups, x.size(0), kn[0], kn[1], 1f, buf(x), buf(w), layout, 0f, buf(y));
        return y;
    }

    /** {@code dx [R, K] = dy [R, N] * w_e^T} per expert row range. */
    public static Tensor groupedGemmBackwardInput(DeviceRoutingPlan plan, Tensor dy, Tensor w, Layout layout) {
        return groupedGemmBackwardInput(plan.offsets(), plan.numExperts(), dy, w, layout);
    }

    /** {@code dx [M, K] = dy [M, N] * w_g^T} per group of rows given by {@code offsets} [G + 1] (device ints). */
    public static Tensor groupedGemmBackwardInput(DeviceBuffer offsets, int groups, Tensor dy, Tensor w, Layout layout) {
        Devices.requireSame("grouped GEMM backward", dy, w);
        int[] kn = weightDims(w, groups, layout);
        requireShape("dy", dy, w.dtype(), dy.size(0), kn[1]);
        Tensor dx = CudaTensors.empty(dy.dtype(), dy.device().index(), dy.size(0), kn[0]);
        if (dy.size(0) > 0 && kn[0] > 0 && kn[1] == 0) storageOf(dx).zero();
        else CudaGroupedGemm.backwardInput(type(dy), offsets, groups, dy.size(0), kn[0], kn[1], 1f, buf(dy), buf(w), layout, 0f, buf(dx));
        return dx;
    }

    /** {@code dw_e = x_e^T dy_e} per expert, in the layout of {@code w} ([E, K, N] or [E, N, K]); empty experts get zeros. */
    public static Tensor groupedGemmBackwardWeight(DeviceRoutingPlan plan, Tensor x, Tensor dy, Layout layout) {
        return groupedGemmBackwardWeight(plan.offsets(), plan.numExperts(), x, dy, layout);
    }

    /**
     * {@code dw_g = x_g^T dy_g} per group of rows given by {@code offsets} [G + 1] (device ints), in the
     * layout of the weights ([G, K, N] or [G, N, K]); empty groups get zeros.
     */
    public static Tensor groupedGemmBackwardWeight(DeviceBuffer offsets, int groups, Tensor x, Tensor dy, Layout layout) {
        Devices.requireSame("grouped GEMM backward", x, dy);
        require2d("x", x, null);
        require2d("dy", dy, x.dtype());
        if (x.size(0) != dy.size(0)) throw new IllegalArgumentException("x " + Shape.str(x.shape()) + " and dy " + Shape.str(dy.shape()) + " differ in rows");
        int E = groups, K = x.size(1), N = dy.size(1);
        Tensor dw = layout == Layout.KN ? CudaTensors.empty(x.dtype(), x.device().index(), E, K, N)
                                        : CudaTensors.empty(x.dtype(), x.device().index(), E, N, K);
        CudaGroupedGemm.backwardWeight(type(x), offsets, E, x.size(0), K, N, 1f, buf(x), buf(dy), 0f, buf(dw), layout);
        return dw;
    }

    // ------------------------------------------------------------------ checks

    private static int[] weightDims(Tensor w, int groups, Layout layout) {
        requireCuda("grouped GEMM", w);
        if (layout == null) throw new IllegalArgumentException("layout of the expert weights must be KN or NK, got null");
        if (w.rank() != 3 || w.size(0) != groups) {
            throw new IllegalArgumentException("expert weights must be [E, K, N] or [E, N, K] with E = " + groups + ", got " + Shape.str(w.shape()));
        }
        type(w);
        return layout == Layout.KN ? new int[] {w.size(1), w.size(2)} : new int[] {w.size(2), w.size(1)};
    }

    private static DeviceBuffer storageOf(Tensor t) { return CudaTensors.storage(t).buffer(); }

    private static CudaDType type(Tensor t) { return CudaTensors.kernelType(t.dtype(), "MoE kernel"); }

    /** The device buffer of a contiguous version of {@code t}. */
    private static DeviceBuffer buf(Tensor t) { return CudaTensors.buffer(t.contiguous()); }

    private static void requireCuda(String op, Tensor t) {
        if (t.device().isCpu()) throw new IllegalArgumentException(op + " on " + t.device() + ": CudaMoe needs tensors on a CUDA device (Tensor.to(Device.cuda(i)))");
    }

    private static void require2d(String name, Tensor t, DType dtype) {
        if (t.rank() != 2) throw new IllegalArgumentException(name + " must be 2-D, got " + Shape.str(t.shape()));
        if (dtype != null && t.dtype() != dtype) throw new IllegalArgumentException(name + " must be " + dtype + ", got " + t.dtype());
        requireCuda(name, t);
    }

    private static void requireShape(String name, Tensor t, DType dtype, int rows, int cols) {
        require2d(name, t, dtype);
        if (t.size(0) != rows || t.size(1) != cols) {
            throw new IllegalArgumentException(name + " must be [" + rows + ", " + cols + "], got " + Shape.str(t.shape()));
        }
    }

    private static void requireRows(String name, Tensor t, DeviceRoutingPlan plan, int rows) {
        require2d(name, t, null);
        type(t);
        if (t.size(0) != rows) throw new IllegalArgumentException(name + " must have " + rows + " rows for the plan, got " + Shape.str(t.shape()));
        if (t.device().index() != plan.device().ordinal()) throw new IllegalArgumentException(name + " is on " + t.device() + ", the plan on " + plan.device());
    }
}
