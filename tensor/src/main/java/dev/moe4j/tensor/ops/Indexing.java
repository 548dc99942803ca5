package dev.moe4j.tensor.ops;

import dev.moe4j.kernels.cpu.ConcatKernels;
import dev.moe4j.kernels.cpu.GatherKernels;
import dev.moe4j.kernels.cpu.HistogramKernels;
import dev.moe4j.kernels.cpu.ScanKernels;
import dev.moe4j.kernels.cpu.ScatterKernels;
import dev.moe4j.kernels.cpu.SortKernels;
import dev.moe4j.kernels.cpu.TopKKernels;
import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Devices;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;
import dev.moe4j.tensor.cuda.CudaIndexing;
import dev.moe4j.tensor.cuda.CudaTensors;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Gathers and scatters, sorting, prefix sums, counting and concatenation, with PyTorch's semantics
 * ({@code index_select}, {@code gather}, {@code scatter_add}, {@code index_add}, {@code topk},
 * {@code argsort(stable=True)}, {@code cumsum}, {@code bincount}, {@code cat}, {@code stack}).
 *
 * <p>Every op checks all its arguments first and throws {@link IllegalArgumentException} naming the
 * shapes, dtypes or values at fault, or {@link IndexOutOfBoundsException} naming an index value and
 * the size it must stay below, before anything is copied. Then it makes its operands contiguous,
 * views them as [outer, n, inner] around the dim it works on (outer = product of the dims before,
 * inner = product of the dims after) and runs a kernel of {@code dev.moe4j.kernels.cpu}. Inputs may
 * be any views (transposed, sliced, expanded) and are never modified; outputs are new contiguous
 * tensors.
 *
 * <p>Index tensors are I64 or I32; an index must lie in [0, size) (negative indices are rejected,
 * as PyTorch does for these ops). Arithmetic runs in F32 for F32, BF16 and F16 (the half types are
 * converted back at the end), in F64 for F64, and in I64 for the integer types and BOOL (converted
 * back, wrapping around like integer arithmetic, except where PyTorch returns I64). Data movement
 * (index select, gather, cat, stack) copies elements of any dtype unchanged.
 *
 * <p>A 0-dim tensor is treated as shape [1] with dim 0 (or -1), as PyTorch does.
 *
 * <p>Devices: operands on different devices are rejected ({@link IllegalArgumentException} naming
 * both). Tensors on a CUDA device are checked here and computed on their device by
 * {@link CudaIndexing}, with the same results and errors; bincount, whose output size depends on
 * the data, counts on the host and returns a device tensor.
 */
public final class Indexing {
    private Indexing() {}

    // ------------------------------------------------------------------ gathers

    /**
     * The slices of {@code a} along {@code dim} at the positions in {@code index}:
     * {@code out[..., j, ...] = a[..., index[j], ...]}. Shapes: a [..., n, ...], index [m] (or 0-dim,
     * one position) &rarr; out [..., m, ...], the dtype of a. Positions may repeat.
     *
     * @throws IllegalArgumentException when index is not I64/I32 or has rank above 1
     * @throws IndexOutOfBoundsException naming the first index outside [0, n), and n
     */
    public static Tensor indexSelect(Tensor a, int dim, Tensor index) {
        Devices.requireSame("indexSelect", a, index);
        checkIndexType("indexSelect", index);
        if (index.rank() > 1) {
            throw new IllegalArgumentException("indexSelect: index must be 1-D, got shape " + Shape.str(index.shape()));
        }
        Tensor x = atLeast1d(a);
        int d = Shape.dim(dim, x.rank());
        int n = x.size(d);
        if (!a.device().isCpu()) {
            if (a.rank() == 0 && index.numel() != 1) {
                throw new IllegalArgumentException("indexSelect: a 0-dim tensor takes exactly one index, got " + index.numel());
            }
            Tensor out = CudaIndexing.indexSelect(x, d, index, a);
            return a.rank() == 0 ? out.view() : out;
        }
        int[] idx = positions("indexSelect", index, n, d, a);
        if (a.rank() == 0 && idx.length != 1) {
            throw new IllegalArgumentException("indexSelect: a 0-dim tensor takes exactly one index, got " + idx.length);
        }
        int[] outShape = x.shape();
        outShape[d] = idx.length;
        Tensor c = x.contiguous();
        Tensor out = Tensor.zeros(a.dtype(), outShape);
        GatherKernels.indexSelect(c.cpuStorage().array(), c.offset(), outer(outShape, d), n, inner(outShape, d), idx, array(out));
        return a.rank() == 0 ? out.view() : out;
    }

    /**
     * Gather along {@code dim}: {@code out[i0, ..., j, ..., ik] = a[i0, ..., index[i0, ..., j, ..., ik], ..., ik]}
     * (for dim 1 of a matrix: {@code out[r][c] = a[r][index[r][c]]}). Shapes: index has the rank of a
     * and {@code index.size(d) <= a.size(d)} for every d other than dim; out has the shape of index
     * and the dtype of a.
     *
     * @throws IllegalArgumentException when index is not I64/I32, ranks differ, or index is larger
     *         than a outside dim
     * @throws IndexOutOfBoundsException naming the first index outside [0, a.size(dim))
     */
    public static Tensor gather(Tensor a, int dim, Tensor index) {
        Devices.requireSame("gather", a, index);
        checkIndexType("gather", index);
        if (index.rank() != a.rank()) {
            throw new IllegalArgumentException("gather: index shape " + Shape.str(index.shape()) + " and input shape "
                    + Shape.str(a.shape()) + " must have the same rank");
        }
        Tensor x = atLeast1d(a), ix = atLeast1d(index);
        int d = Shape.dim(dim, x.rank());
        for (int k = 0; k < x.rank(); k++) {
            if (k != d && ix.size(k) > x.size(k)) {
                throw new IllegalArgumentException("gather: index shape " + Shape.str(index.shape()) + " is larger than input shape "
                        + Shape.str(a.shape()) + " at dim " + k + " (only dim " + d + " may differ freely)");
            }
        }
        int n = x.size(d);
        int[] idx = a.device().isCpu() ? positions("gather", ix, n, d, a) : null;
        Tensor src = x;
        for (int k = 0; k < x.rank(); k++) {
            if (k != d && ix.size(k) < x.size(k)) src = src.narrow(k, 0, ix.size(k));
        }
        if (!a.device().isCpu()) {
            Tensor out = CudaIndexing.gather(src, d, ix, a);
            return a.rank() == 0 ? out.view() : out;
        }
        Tensor c = src.contiguous();
        int[] outShape = ix.shape();
        Tensor out = Tensor.zeros(a.dtype(), outShape);
        GatherKernels.gather(c.cpuStorage().array(), c.offset(), outer(outShape, d), n, inner(outShape, d), idx, outShape[d], array(out));
        return a.rank() == 0 ? out.view() : out;
    }

    // ------------------------------------------------------------------ scatters

    /**
     * A copy of {@code a} with {@code src} summed in at the positions of {@code index} along
     * {@code dim} (PyTorch's {@code scatter_add}): for every element position p of index,
     * {@code out[p with p[dim] replaced by index[p]] += src[p]}. Shapes: a, index and src have one
     * rank; {@code index.size(d) <= src.size(d)} for every d, {@code index.size(d) <= a.size(d)} for
     * d other than dim (only the leading index-shaped block of src is read). Repeated positions
     * accumulate, in increasing order along dim, so the result is deterministic.
     *
     * @throws IllegalArgumentException when index is not I64/I32, ranks or dtypes of a and src
     *         differ, or index is larger than src or a
     * @throws IndexOutOfBoundsException naming the first index outside [0, a.size(dim))
     */
    public static Tensor scatterAdd(Tensor a, int dim, Tensor index, Tensor src) {
        Devices.requireSame("scatterAdd", a, index, src);
        checkIndexType("scatterAdd", index);
        checkSameDtype("scatterAdd", a, src);
        if (index.rank() != a.rank() || src.rank() != a.rank()) {
            throw new IllegalArgumentException("scatterAdd: input " + Shape.str(a.shape()) + ", index " + Shape.str(index.shape())
                    + " and src " + Shape.str(src.shape()) + " must have the same rank");
        }
        Tensor x = atLeast1d(a), ix = atLeast1d(index), s = atLeast1d(src);
        int d = Shape.dim(dim, x.rank());
        for (int k = 0; k < x.rank(); k++) {
            if (ix.size(k) > s.size(k) || (k != d && ix.size(k) > x.size(k))) {
                throw new IllegalArgumentException("scatterAdd: index shape " + Shape.str(index.shape()) + " must be no larger than src shape "
                        + Shape.str(src.shape()) + " at every dim, and than input shape " + Shape.str(a.shape())
                        + " at every dim but " + d + " (dim " + k + " is not)");
            }
        }
        int n = x.size(d);
        if (!a.device().isCpu()) {
            Tensor srcBlock = s;
            for (int k = 0; k < x.rank(); k++) {
                if (ix.size(k) < s.size(k)) srcBlock = srcBlock.narrow(k, 0, ix.size(k));
            }
            Tensor out = CudaIndexing.scatterAdd(x, d, ix, srcBlock, a);
            return a.rank() == 0 ? out.view() : out;
        }
        int[] idx = positions("scatterAdd", ix, n, d, a);
        DType ct = computeType(a.dtype());
        Tensor work = a.dtype() == ct ? x.copy() : x.to(ct);       // new contiguous storage either way
        Tensor srcBlock = s;
        for (int k = 0; k < x.rank(); k++) {
            if (ix.size(k) < s.size(k)) srcBlock = srcBlock.narrow(k, 0, ix.size(k));
        }
        srcBlock = srcBlock.to(ct).contiguous();
        Tensor target = work;                                     // the part of the output index reaches
        for (int k = 0; k < x.rank(); k++) {
            if (k != d && ix.size(k) < x.size(k)) target = target.narrow(k, 0, ix.size(k));
        }
        Tensor t = target.contiguous();
        int[] ishape = ix.shape();
        int outer = outer(ishape, d), inner = inner(ishape, d), m = ishape[d];
        int so = srcBlock.offset();
        switch (ct) {
            case F32 -> ScatterKernels.scatterAdd(storage(t).floats(), t.offset(), outer, n, inner, idx, m, storage(srcBlock).floats(), so);
            case F64 -> ScatterKernels.scatterAdd(storage(t).doubles(), t.offset(), outer, n, inner, idx, m, storage(srcBlock).doubles(), so);
            default -> ScatterKernels.scatterAdd(storage(t).longs(), t.offset(), outer, n, inner, idx, m, storage(srcBlock).longs(), so);
        }
        if (t != target) target.copyFrom(t);
        Tensor out = work.to(a.dtype());
        return a.rank() == 0 ? out.view() : out;
    }

    /**
     * A copy of {@code a} with the slices of {@code src} added at the positions of {@code index}
     * along {@code dim} (PyTorch's {@code index_add}): {@code out[..., index[j], ...] += src[..., j, ...]}.
     * Shapes: a [..., n, ...], index [m] (or 0-dim), src [..., m, ...] equal to a outside dim.
     * Repeated positions accumulate in increasing j, so the result is deterministic.
     *
     * @throws IllegalArgumentException when index is not I64/I32 or not 1-D, dtypes differ, or
     *         the shape of src does not match
     * @throws IndexOutOfBoundsException naming the first index outside [0, n)
     */
    public static Tensor indexAdd(Tensor a, int dim, Tensor index, Tensor src) {
        Devices.requireSame("indexAdd", a, index, src);
        checkIndexType("indexAdd", index);
        if (index.rank() > 1) {
            throw new IllegalArgumentException("indexAdd: index must be 1-D, got shape " + Shape.str(index.shape()));
        }
        checkSameDtype("indexAdd", a, src);
        Tensor x = atLeast1d(a), s = atLeast1d(src);
        int d = Shape.dim(dim, x.rank());
        int m = index.numel();
        boolean fits = s.rank() == x.rank() && s.size(d) == m;
        for (int k = 0; fits && k < x.rank(); k++) fits = k == d || s.size(k) == x.size(k);
        if (!fits) {
            throw new IllegalArgumentException("indexAdd: src shape " + Shape.str(src.shape()) + " must equal input shape " + Shape.str(a.shape())
                    + " except at dim " + d + ", where it must be the index length " + m);
        }
        int n = x.size(d);
        if (!a.device().isCpu()) {
            Tensor out = CudaIndexing.indexAdd(x, d, index, s, a);
            return a.rank() == 0 ? out.view() : out;
        }
        int[] idx = positions("indexAdd", index, n, d, a);
        DType ct = computeType(a.dtype());
        Tensor work = a.dtype() == ct ? x.copy() : x.to(ct);
        Tensor sc = s.to(ct).contiguous();
        int[] shape = x.shape();
        int outer = outer(shape, d), inner = inner(shape, d);
        switch (ct) {
            case F32 -> ScatterKernels.indexAdd(storage(work).floats(), 0, outer, n, inner, idx, storage(sc).floats(), sc.offset());
            case F64 -> ScatterKernels.indexAdd(storage(work).doubles(), 0, outer, n, inner, idx, storage(sc).doubles(), sc.offset());
            default -> ScatterKernels.indexAdd(storage(work).longs(), 0, outer, n, inner, idx, storage(sc).longs(), sc.offset());
        }
        Tensor out = work.to(a.dtype());
        return a.rank() == 0 ? out.view() : out;
    }

    // ------------------------------------------------------------------ sorting

    /**
     * The {@code k} largest (or smallest) elements along {@code dim}, sorted, with their positions.
     * Shapes: a [..., n, ...] &rarr; values (dtype of a) and indices (I64) [..., k, ...].
     *
     * <p>Order: descending for {@code largest}, ascending otherwise; NaN counts as larger than
     * every number (so it is picked first by largest and last by smallest); among equal values the
     * lower position comes first. Small k runs a one-pass selection, large k a full sort; see
     * {@link TopKKernels}.
     *
     * @throws IllegalArgumentException when k is outside [0, n]
     */
    public static TopK topk(Tensor a, int k, int dim, boolean largest) {
        Tensor x = atLeast1d(a);
        int d = Shape.dim(dim, x.rank());
        int n = x.size(d);
        if (k < 0 || k > n) {
            throw new IllegalArgumentException("topk: k = " + k + " is out of range for dim " + d + " of size " + n + " in shape " + Shape.str(a.shape()));
        }
        if (!a.device().isCpu()) {
            TopK t = CudaIndexing.topk(x, k, d, largest);
            return a.rank() == 0 && k == 1 ? new TopK(t.values().view(), t.indices().view()) : t;
        }
        DType ct = computeType(a.dtype());
        Tensor rows = x.transpose(d, -1).to(ct).contiguous();     // [..., n]: the dim moved last
        int r = rowCount(rows.shape());
        int[] outShape = rows.shape();
        outShape[outShape.length - 1] = k;
        Tensor values = Tensor.zeros(ct, outShape), indices = Tensor.zeros(DType.I64, outShape);
        CpuStorage in = storage(rows);
        long[] ind = storage(indices).longs();
        switch (ct) {
            case F32 -> TopKKernels.topk(in.floats(), rows.offset(), r, n, k, largest, storage(values).floats(), ind);
            case F64 -> TopKKernels.topk(in.doubles(), rows.offset(), r, n, k, largest, storage(values).doubles(), ind);
            default -> TopKKernels.topk(in.longs(), rows.offset(), r, n, k, largest, storage(values).longs(), ind);
        }
        Tensor v = values.to(a.dtype()).transpose(d, -1).contiguous();
        Tensor i = indices.transpose(d, -1).contiguous();
        if (a.rank() == 0 && k == 1) return new TopK(v.view(), i.view());
        return new TopK(v, i);
    }

    /**
     * The positions (I64) that sort {@code a} along {@code dim}, stably: equal elements keep their
     * original order whether ascending or descending; NaN sorts as the largest value.
     * Shapes: a [..., n, ...] &rarr; [..., n, ...]. See {@link SortKernels}.
     */
    public static Tensor argsort(Tensor a, int dim, boolean descending) {
        Tensor x = atLeast1d(a);
        int d = Shape.dim(dim, x.rank());
        int n = x.size(d);
        if (!a.device().isCpu()) {
            Tensor out = CudaIndexing.argsort(x, d, descending);
            return a.rank() == 0 ? out.view() : out;
        }
        DType ct = computeType(a.dtype());
        Tensor rows = x.transpose(d, -1).to(ct).contiguous();
        int r = rowCount(rows.shape());
        Tensor perm = Tensor.zeros(DType.I64, rows.shape());
        CpuStorage in = storage(rows);
        long[] p = storage(perm).longs();
        switch (ct) {
            case F32 -> SortKernels.argsort(in.floats(), rows.offset(), r, n, descending, p, 0);
            case F64 -> SortKernels.argsort(in.doubles(), rows.offset(), r, n, descending, p, 0);
            default -> SortKernels.argsort(in.longs(), rows.offset(), r, n, descending, p, 0);
        }
        Tensor out = perm.transpose(d, -1).contiguous();
        return a.rank() == 0 ? out.view() : out;
    }

    // ------------------------------------------------------------------ scans and counts

    /**
     * Inclusive prefix sum along {@code dim}: {@code out[..., j, ...] = a[..., 0, ...] + ... + a[..., j, ...]}.
     * Shapes: same as a. Floating types keep their dtype (F32 accumulates in double, see
     * {@link ScanKernels}); integer and BOOL inputs give I64, as in PyTorch.
     */
    public static Tensor cumsum(Tensor a, int dim) {
        Tensor x = atLeast1d(a);
        int d = Shape.dim(dim, x.rank());
        if (!a.device().isCpu()) {
            Tensor out = CudaIndexing.cumsum(x, d);
            return a.rank() == 0 ? out.view() : out;
        }
        DType ct = computeType(a.dtype());
        Tensor c = x.to(ct).contiguous();
        int[] shape = x.shape();
        int outer = outer(shape, d), n = shape[d], inner = inner(shape, d);
        Tensor out = Tensor.zeros(ct, shape);
        CpuStorage in = storage(c);
        switch (ct) {
            case F32 -> ScanKernels.cumsum(in.floats(), c.offset(), outer, n, inner, storage(out).floats());
            case F64 -> ScanKernels.cumsum(in.doubles(), c.offset(), outer, n, inner, storage(out).doubles());
            default -> ScanKernels.cumsum(in.longs(), c.offset(), outer, n, inner, storage(out).longs());
        }
        Tensor result = a.dtype().isFloatingPoint() ? out.to(a.dtype()) : out;
        return a.rank() == 0 ? result.view() : result;
    }

    /**
     * Counts of each value of a 1-D non-negative integer tensor: {@code out[v]} = number of
     * elements equal to v. Shapes: a [n] &rarr; I64 [max(minLength, max(a) + 1)] ([minLength] when
     * a is empty). See {@link HistogramKernels}.
     *
     * @throws IllegalArgumentException when a is not 1-D or not of an integer dtype, when minLength
     *         is negative, or naming the smallest value when it is negative
     */
    public static Tensor bincount(Tensor a, int minLength) {
        if (a.rank() != 1) throw new IllegalArgumentException("bincount needs a 1-D tensor, got shape " + Shape.str(a.shape()));
        if (!a.dtype().isInteger()) throw new IllegalArgumentException("bincount needs an integer tensor, got " + a.dtype());
        if (minLength < 0) throw new IllegalArgumentException("bincount: minLength must be >= 0, got " + minLength);
        if (!a.device().isCpu()) return bincount(a.cpu(), minLength).to(a.device());   // sized by the data: counted on the host
        Tensor c = a.to(DType.I64).contiguous();
        long[] v = storage(c).longs();
        int n = c.numel();
        long[] range = HistogramKernels.range(v, c.offset(), n);
        if (n > 0 && range[0] < 0) {
            throw new IllegalArgumentException("bincount needs non-negative values, got " + range[0]);
        }
        long bins = Math.max(minLength, n == 0 ? 0 : range[1] + 1);
        if (bins > CpuStorage.MAX_SIZE) {
            throw new IllegalArgumentException("bincount: largest value " + range[1] + " needs more bins than a tensor holds (" + CpuStorage.MAX_SIZE + ")");
        }
        Tensor out = Tensor.zeros(DType.I64, (int) bins);
        HistogramKernels.bincount(v, c.offset(), n, storage(out).longs());
        return out;
    }

    // ------------------------------------------------------------------ concatenation

    /**
     * Concatenation along {@code dim}. Shapes: [..., n_t, ...] for each tensor t, equal outside dim
     * &rarr; [..., sum n_t, ...]. The dtype is the promotion of all dtypes ({@link DType#promote}).
     * As in PyTorch, 1-D tensors of shape [0] are skipped whatever the other shapes are.
     *
     * @throws IllegalArgumentException for an empty list, a 0-dim tensor, or shapes that differ
     *         outside dim (naming both shapes and their positions)
     */
    public static Tensor cat(List<Tensor> tensors, int dim) {
        Devices.requireSame("cat", tensors.toArray(new Tensor[0]));
        Objects.requireNonNull(tensors, "tensors");
        if (tensors.isEmpty()) throw new IllegalArgumentException("cat needs at least one tensor");
        DType dt = null;
        List<Tensor> parts = new ArrayList<>();
        List<Integer> positions = new ArrayList<>();
        for (int p = 0; p < tensors.size(); p++) {
            Tensor t = Objects.requireNonNull(tensors.get(p), "tensor " + p);
            dt = dt == null ? t.dtype() : DType.promote(dt, t.dtype());
            if (t.rank() == 0) throw new IllegalArgumentException("cat: tensor " + p + " is 0-dim and cannot be concatenated");
            if (t.rank() == 1 && t.size(0) == 0) continue;      // legacy empty tensor: skipped
            parts.add(t);
            positions.add(p);
        }
        if (parts.isEmpty()) {
            Shape.dim(dim, 1);
            Device device = tensors.get(0).device();
            return device.isCpu() ? Tensor.zeros(dt, 0) : CudaTensors.empty(dt, device.index(), 0);
        }
        Tensor first = parts.get(0);
        int d = Shape.dim(dim, first.rank());
        int[] sizes = new int[parts.size()];
        long total = 0;
        for (int t = 0; t < parts.size(); t++) {
            Tensor x = parts.get(t);
            boolean same = x.rank() == first.rank();
            for (int k = 0; same && k < first.rank(); k++) same = k == d || x.size(k) == first.size(k);
            if (!same) {
                throw new IllegalArgumentException("cat: shapes " + Shape.str(first.shape()) + " (tensor " + positions.get(0) + ") and "
                        + Shape.str(x.shape()) + " (tensor " + positions.get(t) + ") must match except at dim " + d);
            }
            sizes[t] = x.size(d);
            total += sizes[t];
        }
        int[] outShape = first.shape();
        if (total > Integer.MAX_VALUE) throw new IllegalArgumentException("cat: dim " + d + " would have " + total + " elements");
        outShape[d] = (int) total;
        if (!first.device().isCpu()) return CudaIndexing.cat(parts, dt, outShape, d);
        Tensor out = Tensor.zeros(dt, outShape);
        Object[] arrays = new Object[parts.size()];
        int[] offsets = new int[parts.size()];
        for (int t = 0; t < parts.size(); t++) {
            Tensor c = parts.get(t).to(dt).contiguous();
            arrays[t] = c.cpuStorage().array();
            offsets[t] = c.offset();
        }
        ConcatKernels.cat(arrays, offsets, sizes, outer(outShape, d), inner(outShape, d), array(out));
        return out;
    }

    /**
     * Stacks equally shaped tensors along a new dim {@code dim} (in [-(rank+1), rank]). Shapes: T
     * tensors [s0, ..., s(r-1)] &rarr; [s0, ..., T, ..., s(r-1)] with T at dim. The dtype is the
     * promotion of all dtypes.
     *
     * @throws IllegalArgumentException for an empty list or shapes that differ (naming both)
     */
    public static Tensor stack(List<Tensor> tensors, int dim) {
        Objects.requireNonNull(tensors, "tensors");
        if (tensors.isEmpty()) throw new IllegalArgumentException("stack needs at least one tensor");
        Tensor first = Objects.requireNonNull(tensors.get(0), "tensor 0");
        int d = Shape.dim(dim, first.rank() + 1);
        List<Tensor> lifted = new ArrayList<>(tensors.size());
        for (int p = 0; p < tensors.size(); p++) {
            Tensor t = Objects.requireNonNull(tensors.get(p), "tensor " + p);
            if (!t.sameShape(first)) {
                throw new IllegalArgumentException("stack: shapes " + Shape.str(first.shape()) + " (tensor 0) and "
                        + Shape.str(t.shape()) + " (tensor " + p + ") must be equal");
            }
            lifted.add(t.unsqueeze(d));
        }
        return cat(lifted, d);
    }

    // ------------------------------------------------------------------ helpers

    /** The type an op computes in: F32 for F32 and the half types, F64 for F64, I64 for the rest. */
    private static DType computeType(DType t) {
        if (t == DType.F64) return DType.F64;
        if (t.isFloatingPoint()) return DType.F32;
        return DType.I64;
    }

    private static Tensor atLeast1d(Tensor a) { return a.rank() == 0 ? a.view(1) : a; }

    /** Product of the dims before {@code d}. */
    private static int outer(int[] shape, int d) {
        int p = 1;
        for (int k = 0; k < d; k++) p *= shape[k];
        return p;
    }

    /** Product of the dims after {@code d}. */
    private static int inner(int[] shape, int d) {
        int p = 1;
        for (int k = d + 1; k < shape.length; k++) p *= shape[k];
        return p;
    }

    /** Number of rows of a [..., n] shape: the product of all dims but the last. */
    private static int rowCount(int[] shape) { return outer(shape, shape.length - 1); }

    private static CpuStorage storage(Tensor t) { return t.cpuStorage(); }

    private static Object array(Tensor t) { return t.cpuStorage().array(); }

    private static void checkIndexType(String op, Tensor index) {
        Objects.requireNonNull(index, "index");
        if (index.dtype() != DType.I64 && index.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + ": index must be I64 or I32, got " + index.dtype());
        }
    }

    private static void checkSameDtype(String op, Tensor a, Tensor src) {
        Objects.requireNonNull(src, "src");
        if (a.dtype() != src.dtype()) {
            throw new IllegalArgumentException(op + ": input (" + a.dtype() + ") and src (" + src.dtype() + ") must have the same dtype");
        }
    }

    /**
     * The index values in row-major order as ints, each checked to lie in [0, size).
     *
     * @throws IndexOutOfBoundsException naming the first value outside, the size and the input shape
     */
    private static int[] positions(String op, Tensor index, int size, int dim, Tensor a) {
        long[] v = index.toLongArray();
        int[] out = new int[v.length];
        for (int t = 0; t < v.length; t++) {
            long x = v[t];
            if (x < 0 || x >= size) {
                throw new IndexOutOfBoundsException(op + ": index " + x + " is out of range for dim " + dim + " of size " + size
                        + " (input shape " + Shape.str(a.shape()) + ")");
            }
            out[t] = (int) x;
        }
        return out;
    }
}
