package dev.moe4j.tensor.cuda;

import dev.moe4j.kernels.cuda.CudaDType;
import dev.moe4j.kernels.cuda.CudaReduce;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Reductions, softmax and log-softmax of CUDA tensors: the device side of
 * {@link dev.moe4j.tensor.ops.Reductions}, which checks the arguments, normalises the dims and comes
 * here for a tensor on a CUDA device; the arithmetic runs in {@link CudaReduce} ({@code cuda-src/reduce.cu}).
 *
 * <p>Shapes: results have the kept dims in order (the caller applies {@code keepDim}). Every input
 * is viewed as [outer, n, inner] around the reduced dims: a single dim, or several adjacent dims of a
 * contiguous tensor, read in place; any other layout is permuted to [kept..., reduced...] and copied
 * once. Non-contiguous inputs are made contiguous first.
 *
 * <p>Types: F32 and BF16 (computed in float, rounded once to the input type); argmax / argmin give
 * I64. Other dtypes are rejected with an {@link IllegalArgumentException} naming them. Results are
 * identical run to run; sums agree with the CPU to rounding (another summation order), max, min,
 * argmax and argmin exactly.
 */
public final class CudaReductions {
    private CudaReductions() {}

    /** Sum of {@code a} over the dims flagged in {@code reduced} (one flag per dim of a); the kept dims' shape. */
    public static Tensor sum(Tensor a, boolean[] reduced) { return overDims("sum", CudaReduce.Op.SUM, a, reduced); }

    /** Mean of {@code a} over the flagged dims (NaN where no element is reduced); the kept dims' shape. */
    public static Tensor mean(Tensor a, boolean[] reduced) { return overDims("mean", CudaReduce.Op.MEAN, a, reduced); }

    /** Variance over the flagged dims, &Sigma;(x - mean)&sup2; / max(0, N - correction); the kept dims' shape. */
    public static Tensor var(Tensor a, boolean[] reduced, int correction) { return overDims("var", null, a, reduced, correction); }

    /**
     * {@code op} (MAX, MIN, ARGMAX, ARGMIN or LOGSUMEXP, or SUM / MEAN) along {@code dim} (normalised,
     * in [0, rank)) of a tensor of rank at least 1: shape of a without dim; I64 for the arg ops.
     */
    public static Tensor reduce(CudaReduce.Op op, Tensor a, int dim) {
        String name = op.name().toLowerCase();
        CudaDType type = CudaTensors.kernelType(a.dtype(), name);
        Tensor x = a.contiguous();
        int[] shape = x.shape();
        int outer = prod(shape, 0, dim), n = shape[dim], inner = prod(shape, dim + 1, shape.length);
        boolean arg = op == CudaReduce.Op.ARGMAX || op == CudaReduce.Op.ARGMIN;
        Tensor out = CudaTensors.empty(arg ? DType.I64 : a.dtype(), a.device().index(), without(shape, dim));
        CudaReduce.reduce(op, type, CudaTensors.buffer(x), outer, n, inner, CudaTensors.buffer(out));
        return out;
    }

    /**
     * Softmax ({@code log} false) or log-softmax ({@code log} true) along {@code dim} (normalised) of
     * a tensor of rank at least 1; same shape and dtype, a new contiguous device tensor.
     */
    public static Tensor softmax(Tensor a, int dim, boolean log) {
        CudaDType type = CudaTensors.kernelType(a.dtype(), log ? "logSoftmax" : "softmax");
        Tensor x = a.contiguous();
        int[] shape = x.shape();
        Tensor out = CudaTensors.empty(a.dtype(), a.device().index(), shape);
        CudaReduce.softmax(type, CudaTensors.buffer(x), prod(shape, 0, dim), shape[dim], prod(shape, dim + 1, shape.length), log,
                CudaTensors.buffer(out));
        return out;
    }

    // ------------------------------------------------------------------ several dims

    private static Tensor overDims(String name, CudaReduce.Op op, Tensor a, boolean[] reduced) {
        return overDims(name, op, a, reduced, 0);
    }

    /** op over the flagged dims (op null: the variance with {@code correction}). */
    private static Tensor overDims(String name, CudaReduce.Op op, Tensor a, boolean[] reduced, int correction) {
        CudaDType type = CudaTensors.kernelType(a.dtype(), name);
        Tensor x = a.rank() == 0 ? a.reshape(1) : a;
        boolean[] r = x.rank() == reduced.length ? reduced : new boolean[] {true};
        if (r.length != x.rank()) {
            throw new IllegalArgumentException(name + ": " + r.length + " dim flags for shape " + Shape.str(a.shape()));
        }
        int[] shape = x.shape();
        int[] kept = keptShape(shape, r);
        x = x.contiguous();
        long n = 1;
        for (int i = 0; i < shape.length; i++) if (r[i]) n *= shape[i];
        int[] block = adjacentBlock(shape, r);
        int outer, inner;
        if (block == null) {                                  // copy once into [kept..., reduced...]
            x = x.permute(keptThenReduced(r)).contiguous();
            outer = (int) Shape.numel(kept);
            inner = 1;
        } else {
            outer = block[0];
            inner = block[1];
        }
        Tensor out = CudaTensors.empty(a.dtype(), a.device().index(), kept);
        if (op == null) CudaReduce.variance(type, CudaTensors.buffer(x), outer, (int) n, inner, correction, CudaTensors.buffer(out));
        else CudaReduce.reduce(op, type, CudaTensors.buffer(x), outer, (int) n, inner, CudaTensors.buffer(out));
        return out;
    }

    /**
     * For a contiguous layout: when the reduced dims (ignoring size-1 dims) are adjacent, the sizes
     * {before, inner} of the kept dims before and after them; otherwise null.
     */
    static int[] adjacentBlock(int[] shape, boolean[] reduced) {
        int first = -1, last = -1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1 || !reduced[i]) continue;
            if (first < 0) first = i;
            last = i;
        }
        if (first < 0) return new int[] {(int) Shape.numel(keptShape(shape, reduced)), 1};
        long before = 1, inner = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1 || reduced[i]) continue;
            if (i > first && i < last) return null;           // a kept dim inside the reduced block
            if (i < first) before *= shape[i];
            else inner *= shape[i];
        }
        return new int[] {(int) before, (int) inner};
    }

    private static int[] keptShape(int[] shape, boolean[] reduced) {
        int k = 0;
        for (boolean r : reduced) if (!r) k++;
        int[] out = new int[k];
        for (int i = 0, j = 0; i < shape.length; i++) if (!reduced[i]) out[j++] = shape[i];
        return out;
    }

    private static int[] keptThenReduced(boolean[] reduced) {
        int[] perm = new int[reduced.length];
        int j = 0;
        for (int i = 0; i < reduced.length; i++) if (!reduced[i]) perm[j++] = i;
        for (int i = 0; i < reduced.length; i++) if (reduced[i]) perm[j++] = i;
        return perm;
    }

    static int prod(int[] shape, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return (int) p;
    }

    static int[] without(int[] shape, int dim) {
        int[] out = new int[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) if (i != dim) out[j++] = shape[i];
        return out;
    }
}
