package dev.moe4j.kernels.cuda;

/**
 * Launchers of {@code cuda-src/indexing.cu}: gathers (index select, gather), scatter-adds by a plan,
 * row copies (one part of a concatenation) and selection by rank (top-k, stable argsort), the device
 * forms of the CPU's {@link dev.moe4j.kernels.cpu.GatherKernels}, {@link dev.moe4j.kernels.cpu.ScatterKernels},
 * {@link dev.moe4j.kernels.cpu.ConcatKernels}, {@link dev.moe4j.kernels.cpu.TopKKernels} and
 * {@link dev.moe4j.kernels.cpu.SortKernels}.
 *
 * <h2>Shapes (device buffers, contiguous row-major)</h2>
 * <pre>
 *   gather       x [outer, n, inner] (1, 2, 4 or 8-byte elements), index [m] or [outer, m, inner]
 *                (int32 or int64) -&gt; out [outer, m, inner]
 *   scatter-add  out (flat, type), src (flat, type); plan: targets [count], starts [count + 1],
 *                sources [starts[count]] (ints, element offsets)
 *   index-add    out [outer, n, inner], src [outer, m, inner] (type); plan: rows [count],
 *                starts [count + 1], js [starts[count]] (ints)
 *   copy rows    src [rows, len] -&gt; dst rows of pitch dstPitch, from column dstOff
 *   rank select  x [rows, n] type -&gt; values [rows, k] type (optional), indices [rows, k] int64
 * </pre>
 * The plans give each output element one thread that adds its sources in the listed order (the CPU's
 * increasing position order when the plan is a stable sort): no atomics, results equal to the CPU's
 * bit for bit in float. Checks ({@link IllegalArgumentException} naming the shapes) run before any launch.
 */
public final class CudaIndexing {
    private CudaIndexing() {}

    private static final String MODULE = "indexing";

    /**
     * {@code out[o, j, i] = x[o, index, i]} with index = {@code index[j]} ({@code perElement} false) or
     * {@code index[o, j, i]} (true). Returns -1, or the position (row-major in the index) of the first
     * index outside [0, n), whose output elements are 0 (the caller throws).
     *
     * @param elementBytes 1, 2, 4 or 8
     * @param index64      int64 indices (else int32)
     * @throws IllegalArgumentException for bad sizes or short buffers
     */
    public static int gather(int elementBytes, DeviceBuffer x, int outer, int n, int inner, DeviceBuffer index, boolean index64,
                             int m, boolean perElement, DeviceBuffer out) {
        String bits = bits(elementBytes);
        if (outer < 0 || n < 0 || inner < 0 || m < 0) {
            throw new IllegalArgumentException("gather: sizes must be >= 0, got x [outer, n, inner] = [" + outer + ", " + n + ", " + inner + "], m = " + m);
        }
        long outElems = (long) outer * m * inner;
        Checks.toInt("gather: outer * n * inner", (long) outer * n * inner);
        Checks.toInt("gather: outer * m * inner", outElems);
        Checks.buffer("x", x, (long) outer * n * inner, elementBytes, "[outer, n, inner] = [" + outer + ", " + n + ", " + inner + "]");
        Checks.buffer("index", index, perElement ? outElems : m, index64 ? 8 : 4, perElement ? "[outer, m, inner]" : "[m] = [" + m + "]");
        Checks.buffer("out", out, outElems, elementBytes, "[outer, m, inner] = [" + outer + ", " + m + ", " + inner + "]");
        CudaDevice dev = Checks.sameDevice(x, index, out);
        if (outElems == 0) return -1;
        try (DeviceBuffer bad = dev.allocate(4)) {
            bad.fill32(Integer.MAX_VALUE);
            dev.launch(MODULE, "index_gather_" + bits + (index64 ? "_i64" : "_i32"), LaunchGeometry.elementwise(outElems), 0,
                    x, outer, n, inner, index, m, perElement ? 1 : 0, out, bad);
            int first = bad.readInts(1)[0];
            return first == Integer.MAX_VALUE ? -1 : first;
        }
    }

    /**
     * {@code out[targets[q]] += src[sources[r]]} for r in [starts[q], starts[q + 1]), in that order, one
     * thread per target q &lt; count (the targets must be distinct).
     *
     * @throws IllegalArgumentException for a negative count or short plan buffers
     */
    public static void scatterAdd(CudaDType type, DeviceBuffer out, DeviceBuffer targets, DeviceBuffer starts, DeviceBuffer sources,
                                  int sourceCount, DeviceBuffer src, int count) {
        if (type == null) throw new IllegalArgumentException("scatterAdd: element type is null");
        Checks.nonNegative("scatterAdd: target count", count);
        Checks.nonNegative("scatterAdd: source count", sourceCount);
        if (count == 0) return;
        Checks.buffer("targets", targets, count, 4, "[count] = [" + count + "]");
        Checks.buffer("starts", starts, count + 1L, 4, "[count + 1] = [" + (count + 1L) + "]");
        Checks.buffer("sources", sources, sourceCount, 4, "[sources] = [" + sourceCount + "]");
        if (out == null || src == null) throw new IllegalArgumentException("scatterAdd: out and src must be given");
        CudaDevice dev = Checks.sameDevice(out, targets, starts, sources, src);
        dev.launch(MODULE, "scatter_add_plan_" + type.suffix(), LaunchGeometry.perItem(count), 0, out, targets, starts, sources, src, count);
    }

    /**
     * {@code out[o, rows[q], i] += src[o, js[r], i]} for r in [starts[q], starts[q + 1]), in that order;
     * one thread per (o, q, i) (the rows must be distinct).
     *
     * @throws IllegalArgumentException for bad sizes or short buffers
     */
    public static void indexAdd(CudaDType type, DeviceBuffer out, int outer, int n, int inner, DeviceBuffer rows, DeviceBuffer starts,
                                DeviceBuffer js, DeviceBuffer src, int m, int count) {
        if (type == null) throw new IllegalArgumentException("indexAdd: element type is null");
        if (outer < 0 || n < 0 || inner < 0 || m < 0 || count < 0 || count > n) {
            throw new IllegalArgumentException("indexAdd: bad sizes: out [outer, n, inner] = [" + outer + ", " + n + ", " + inner + "], m = " + m
                    + ", target rows = " + count);
        }
        Checks.toInt("indexAdd: outer * n * inner", (long) outer * n * inner);
        Checks.toInt("indexAdd: outer * m * inner", (long) outer * m * inner);
        Checks.buffer("out", out, (long) outer * n * inner, type.bytes(), "[outer, n, inner] = [" + outer + ", " + n + ", " + inner + "]");
        Checks.buffer("src", src, (long) outer * m * inner, type.bytes(), "[outer, m, inner] = [" + outer + ", " + m + ", " + inner + "]");
        if ((long) outer * count * inner == 0) return;
        Checks.buffer("rows", rows, count, 4, "[count] = [" + count + "]");
        Checks.buffer("starts", starts, count + 1L, 4, "[count + 1] = [" + (count + 1L) + "]");
        Checks.buffer("js", js, m, 4, "[m] = [" + m + "]");
        CudaDevice dev = Checks.sameDevice(out, rows, starts, js, src);
        dev.launch(MODULE, "index_add_rows_" + type.suffix(), LaunchGeometry.elementwise((long) outer * count * inner), 0,
                out, outer, n, inner, rows, starts, js, src, m, count);
    }

    /**
     * {@code dst[r * dstPitch + dstOff + c] = src[r * len + c]} for r &lt; rows, c &lt; len (elements of
     * {@code elementBytes} bytes).
     *
     * @throws IllegalArgumentException for bad sizes or short buffers
     */
    public static void copyRows(int elementBytes, DeviceBuffer src, int rows, int len, DeviceBuffer dst, int dstPitch, int dstOff) {
        String bits = bits(elementBytes);
        if (rows < 0 || len < 0 || dstOff < 0 || dstOff + (long) len > dstPitch) {
            throw new IllegalArgumentException("copyRows: rows = " + rows + ", len = " + len + " do not fit rows of pitch " + dstPitch + " from column " + dstOff);
        }
        Checks.toInt("copyRows: rows * pitch", (long) rows * dstPitch);
        Checks.buffer("src", src, (long) rows * len, elementBytes, "[rows, len] = [" + rows + ", " + len + "]");
        if ((long) rows * len == 0) return;
        Checks.buffer("dst", dst, (long) (rows - 1) * dstPitch + dstOff + len, elementBytes, "[rows, pitch] = [" + rows + ", " + dstPitch + "]");
        CudaDevice dev = Checks.sameDevice(src, dst);
        dev.launch(MODULE, "copy_rows_" + bits, LaunchGeometry.elementwise((long) rows * len), 0, src, rows, len, dst, dstPitch, dstOff);
    }

    /**
     * The first {@code k} elements of each row of x [rows, n] in the order "larger first" ({@code largest})
     * or "smaller first", NaN above every number, ties by lower position: values [rows, k] (skipped when
     * null) and int64 positions [rows, k]. With k = n this is a stable argsort.
     *
     * @throws IllegalArgumentException for k outside [0, n], bad sizes or short buffers
     */
    public static void rankSelect(CudaDType type, DeviceBuffer x, int rows, int n, int k, boolean largest, DeviceBuffer values,
                                  DeviceBuffer indices) {
        if (type == null) throw new IllegalArgumentException("rankSelect: element type is null");
        if (rows < 0 || n < 0 || k < 0 || k > n) {
            throw new IllegalArgumentException("rankSelect: need rows >= 0 and 0 <= k <= n, got rows = " + rows + ", n = " + n + ", k = " + k);
        }
        Checks.toInt("rankSelect: rows * n", (long) rows * n);
        Checks.buffer("x", x, (long) rows * n, type.bytes(), "[rows, n] = [" + rows + ", " + n + "]");
        Checks.optional("values", values, (long) rows * k, type.bytes(), "[rows, k] = [" + rows + ", " + k + "]");
        Checks.buffer("indices", indices, (long) rows * k, 8, "[rows, k] = [" + rows + ", " + k + "]");
        if ((long) rows * k == 0) return;
        CudaDevice dev = Checks.sameDevice(x, values, indices);
        dev.launch(MODULE, "rank_select_" + type.suffix(), LaunchGeometry.rankSelect(rows, n), 0, x, rows, n, k, largest ? 1 : 0, values, indices);
    }

    private static String bits(int elementBytes) {
        return switch (elementBytes) {
            case 1 -> "b8";
            case 2 -> "b16";
            case 4 -> "b32";
            case 8 -> "b64";
            default -> throw new IllegalArgumentException("elements of 1, 2, 4 or 8 bytes are moved, not " + elementBytes);
        };
    }
}
