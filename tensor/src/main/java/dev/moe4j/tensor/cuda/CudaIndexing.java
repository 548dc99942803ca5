package dev.moe4j.tensor.cuda;

import dev.moe4j.kernels.cuda.CudaDType;
import dev.moe4j.kernels.cuda.CudaReduce;
import dev.moe4j.kernels.cuda.DeviceBuffer;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;

import java.util.Arrays;
import java.util.List;

/**
 * Gathers, scatter-adds, top-k, argsort, prefix sums and concatenation of CUDA tensors: the device side
 * of {@link dev.moe4j.tensor.ops.Indexing}, which checks shapes and dims and comes here for tensors on
 * a CUDA device. The kernels are in {@link dev.moe4j.kernels.cuda.CudaIndexing} and {@link CudaReduce}.
 *
 * <p>Index values are checked against the size they index: {@link #indexSelect} and {@link #gather}
 * on the device (a flag read back after the kernel; the output is discarded), {@link #scatterAdd} and
 * {@link #indexAdd} on the host, where the index is read anyway to build the plan that makes the sums
 * deterministic: a stable sort of the index positions by target, so each output element is summed by
 * one thread in increasing position order, the CPU's order (float results equal the CPU's bit for bit).
 * An index outside [0, size) is an {@link IndexOutOfBoundsException} with the CPU's message.
 *
 * <p>Types: data movement (index select, gather, cat) takes every dtype; scatter-add, index-add,
 * cumsum, topk and argsort take F32 and BF16 (computed in float). Inputs may be any device views;
 * outputs are new contiguous device tensors.
 */
public final class CudaIndexing {
    private CudaIndexing() {}

    /**
     * {@code out[..., j, ...] = x[..., index[j], ...]} along {@code dim} (normalised) of x (rank &ge; 1);
     * index I64 or I32 with at most one dim.
     *
     * @throws IndexOutOfBoundsException naming the first index outside [0, x.size(dim)), as the CPU does
     */
    public static Tensor indexSelect(Tensor x, int dim, Tensor index, Tensor original) {
        int n = x.size(dim), m = index.numel();
        int[] outShape = x.shape();
        outShape[dim] = m;
        Tensor c = x.contiguous(), ic = index.contiguous();
        Tensor out = CudaTensors.empty(x.dtype(), x.device().index(), outShape);
        int bad = dev.moe4j.kernels.cuda.CudaIndexing.gather(x.dtype().byteSize(), CudaTensors.buffer(c), CudaReductions.prod(outShape, 0, dim), n,
                CudaReductions.prod(outShape, dim + 1, outShape.length), CudaTensors.buffer(ic), ic.dtype() == DType.I64, m, false,
                CudaTensors.buffer(out));
        if (bad >= 0) throw outOfRange("indexSelect", ic.view(ic.numel()).narrow(0, bad, 1).cpu().toLongArray()[0], n, dim, original);
        return out;
    }

    /**
     * {@code out[p] = src[p with p[dim] replaced by index[p]]}: src and index have one shape except at
     * {@code dim} (normalised), where src has n elements.
     *
     * @throws IndexOutOfBoundsException naming the first index outside [0, n), as the CPU does
     */
    public static Tensor gather(Tensor src, int dim, Tensor index, Tensor original) {
        int n = src.size(dim);
        int[] outShape = index.shape();
        Tensor c = src.contiguous(), ic = index.contiguous();
        Tensor out = CudaTensors.empty(src.dtype(), src.device().index(), outShape);
        int bad = dev.moe4j.kernels.cuda.CudaIndexing.gather(src.dtype().byteSize(), CudaTensors.buffer(c), CudaReductions.prod(outShape, 0, dim), n,
                CudaReductions.prod(outShape, dim + 1, outShape.length), CudaTensors.buffer(ic), ic.dtype() == DType.I64,
                outShape[dim], true, CudaTensors.buffer(out));
        if (bad >= 0) throw outOfRange("gather", ic.view(ic.numel()).narrow(0, bad, 1).cpu().toLongArray()[0], n, dim, original);
        return out;
    }

    /**
     * A copy of x with {@code srcBlock[p]} added at {@code p with p[dim] replaced by index[p]}, for every
     * position p of index (row-major), repeated targets in increasing position order. Shapes: index and
     * srcBlock equal; index no larger than x outside dim.
     *
     * @throws IndexOutOfBoundsException naming the first index outside [0, x.size(dim)), before any work
     */
    public static Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor srcBlock, Tensor original) {
        CudaDType type = CudaTensors.kernelType(x.dtype(), "scatterAdd");
        int n = x.size(dim);
        long[] iv = index.cpu().toLongArray();
        int first = firstOutside(iv, n);
        if (first >= 0) throw outOfRange("scatterAdd", iv[first], n, dim, original);
        int[] ishape = index.shape(), xstrides = Shape.contiguousStrides(x.shape());
        int rank = ishape.length;
        long[] keyed = new long[iv.length];                  // (target << 32) | position: sorted, a stable sort by target
        int[] idx = new int[rank];
        for (int e = 0; e < iv.length; e++) {
            long target = 0;
            for (int k = 0; k < rank; k++) target += (long) (k == dim ? (int) iv[e] : idx[k]) * xstrides[k];
            keyed[e] = (target << 32) | e;
            for (int k = rank - 1; k >= 0; k--) {
                if (++idx[k] < ishape[k]) break;
                idx[k] = 0;
            }
        }
        Arrays.sort(keyed);
        Plan plan = Plan.of(keyed);
        Tensor work = x.copy();
        if (plan.count > 0) {
            Tensor s = srcBlock.contiguous();
            int ord = x.device().index();
            Tensor targets = upload(plan.targets, ord), starts = upload(plan.starts, ord), sources = upload(plan.items, ord);
            dev.moe4j.kernels.cuda.CudaIndexing.scatterAdd(type, CudaTensors.buffer(work), CudaTensors.buffer(targets), CudaTensors.buffer(starts),
                    CudaTensors.buffer(sources), plan.items.length, CudaTensors.buffer(s), plan.count);
        }
        return work;
    }

    /**
     * A copy of x with {@code src[..., j, ...]} added at {@code [..., index[j], ...]} along {@code dim},
     * repeated rows in increasing j. Shapes: x [..., n, ...], index [m], src [..., m, ...].
     *
     * @throws IndexOutOfBoundsException naming the first index outside [0, n), before any work
     */
    public static Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src, Tensor original) {
        CudaDType type = CudaTensors.kernelType(x.dtype(), "indexAdd");
        int n = x.size(dim);
        long[] iv = index.cpu().toLongArray();
        int first = firstOutside(iv, n);
        if (first >= 0) throw outOfRange("indexAdd", iv[first], n, dim, original);
        long[] keyed = new long[iv.length];
        for (int j = 0; j < iv.length; j++) keyed[j] = (iv[j] << 32) | j;
        Arrays.sort(keyed);
        Plan plan = Plan.of(keyed);
        Tensor work = x.copy();
        int[] shape = x.shape();
        int outer = CudaReductions.prod(shape, 0, dim), inner = CudaReductions.prod(shape, dim + 1, shape.length);
        if (plan.count > 0 && (long) outer * inner > 0) {
            Tensor s = src.contiguous();
            int ord = x.device().index();
            Tensor rows = upload(plan.targets, ord), starts = upload(plan.starts, ord), js = upload(plan.items, ord);
            dev.moe4j.kernels.cuda.CudaIndexing.indexAdd(type, CudaTensors.buffer(work), outer, n, inner, CudaTensors.buffer(rows),
                    CudaTensors.buffer(starts), CudaTensors.buffer(js), CudaTensors.buffer(s), iv.length, plan.count);
        }
        return work;
    }

    /**
     * The {@code k} first elements along {@code dim} (normalised) of x (rank &ge; 1) in the order of
     * {@link dev.moe4j.tensor.ops.Indexing#topk}, with their I64 positions.
     */
    public static TopK topk(Tensor x, int k, int dim, boolean largest) {
        CudaDType type = CudaTensors.kernelType(x.dtype(), "topk");
        Tensor rows = x.transpose(dim, -1).contiguous();
        int n = rows.size(-1), r = CudaReductions.prod(rows.shape(), 0, rows.rank() - 1);
        int[] outShape = rows.shape();
        outShape[outShape.length - 1] = k;
        int ord = x.device().index();
        Tensor values = CudaTensors.empty(x.dtype(), ord, outShape), indices = CudaTensors.empty(DType.I64, ord, outShape);
        dev.moe4j.kernels.cuda.CudaIndexing.rankSelect(type, CudaTensors.buffer(rows), r, n, k, largest, CudaTensors.buffer(values),
                CudaTensors.buffer(indices));
        return new TopK(values.transpose(dim, -1).contiguous(), indices.transpose(dim, -1).contiguous());
    }

    /** The I64 positions that sort x along {@code dim} (normalised) stably, NaN the largest value. */
    public static Tensor argsort(Tensor x, int dim, boolean descending) {
        CudaDType type = CudaTensors.kernelType(x.dtype(), "argsort");
        Tensor rows = x.transpose(dim, -1).contiguous();
        int n = rows.size(-1), r = CudaReductions.prod(rows.shape(), 0, rows.rank() - 1);
        Tensor perm = CudaTensors.empty(DType.I64, x.device().index(), rows.shape());
        dev.moe4j.kernels.cuda.CudaIndexing.rankSelect(type, CudaTensors.buffer(rows), r, n, n, descending, null, CudaTensors.buffer(perm));
        return perm.transpose(dim, -1).contiguous();
    }

    /** Inclusive prefix sum along {@code dim} (normalised) of x (rank &ge; 1), accumulated in double; same shape and dtype. */
    public static Tensor cumsum(Tensor x, int dim) {
        CudaDType type = CudaTensors.kernelType(x.dtype(), "cumsum");
        Tensor c = x.contiguous();
        int[] shape = c.shape();
        Tensor out = CudaTensors.empty(x.dtype(), x.device().index(), shape);
        CudaReduce.cumsum(type, CudaTensors.buffer(c), CudaReductions.prod(shape, 0, dim), shape[dim],
                CudaReductions.prod(shape, dim + 1, shape.length), CudaTensors.buffer(out));
        return out;
    }

    /**
     * Concatenation of {@code parts} (checked: one rank, equal outside {@code dim}) along {@code dim}
     * into a new tensor of {@code dtype} and {@code outShape}; each part converted to dtype first.
     */
    public static Tensor cat(List<Tensor> parts, DType dtype, int[] outShape, int dim) {
        Tensor out = CudaTensors.empty(dtype, parts.get(0).device().index(), outShape);
        int outer = CudaReductions.prod(outShape, 0, dim), inner = CudaReductions.prod(outShape, dim + 1, outShape.length);
        int pitch = outShape[dim] * inner, at = 0;
        DeviceBuffer dst = CudaTensors.buffer(out);
        for (Tensor p : parts) {
            Tensor c = p.to(dtype).contiguous();
            int len = p.size(dim) * inner;
            dev.moe4j.kernels.cuda.CudaIndexing.copyRows(dtype.byteSize(), CudaTensors.buffer(c), outer, len, dst, pitch, at);
            at += len;
        }
        return out;
    }

    // ------------------------------------------------------------------ plans

    /**
     * Sorted (target &lt;&lt; 32 | item) keys grouped by target: the distinct targets [count], where each
     * target's items start in {@code items} [count + 1], and the items in increasing order per target.
     */
    private record Plan(int count, int[] targets, int[] starts, int[] items) {
        static Plan of(long[] keyed) {
            int count = 0;
            for (int e = 0; e < keyed.length; e++) if (e == 0 || (keyed[e] >>> 32) != (keyed[e - 1] >>> 32)) count++;
            int[] targets = new int[count], starts = new int[count + 1], items = new int[keyed.length];
            int q = -1;
            for (int e = 0; e < keyed.length; e++) {
                if (e == 0 || (keyed[e] >>> 32) != (keyed[e - 1] >>> 32)) {
                    targets[++q] = (int) (keyed[e] >>> 32);
                    starts[q] = e;
                }
                items[e] = (int) keyed[e];
            }
            starts[count] = keyed.length;
            return new Plan(count, targets, starts, items);
        }
    }

    private static Tensor upload(int[] values, int ordinal) {
        return CudaTensors.to(Tensor.of(values, values.length), dev.moe4j.tensor.Device.cuda(ordinal));
    }

    private static int firstOutside(long[] v, int size) {
        for (int t = 0; t < v.length; t++) if (v[t] < 0 || v[t] >= size) return t;
        return -1;
    }

    private static IndexOutOfBoundsException outOfRange(String op, long value, int size, int dim, Tensor a) {
        return new IndexOutOfBoundsException(op + ": index " + value + " is out of range for dim " + dim + " of size " + size
                + " (input shape " + Shape.str(a.shape()) + ")");
    }
}
