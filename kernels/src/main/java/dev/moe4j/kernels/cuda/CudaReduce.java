package dev.moe4j.kernels.cuda;

/**
 * Launchers of {@code cuda-src/reduce.cu}: reductions along one dim, softmax and log-softmax, and the
 * prefix sum, the device forms of the CPU's {@link dev.moe4j.kernels.cpu.ReduceKernels},
 * {@link dev.moe4j.kernels.cpu.SoftmaxKernels} and {@link dev.moe4j.kernels.cpu.ScanKernels}.
 *
 * <h2>Shapes (device buffers, contiguous row-major; {@code type} F32 or BF16)</h2>
 * <pre>
 *   x    [outer, n, inner] type     the reduced (or scanned, or normalised) dim is n
 *   out  [outer, inner]    type     reductions; int64 for ARGMAX / ARGMIN
 *   y    [outer, n, inner] type     softmax, log-softmax, cumsum
 * </pre>
 * Every kernel computes in float (cumsum in double) and rounds once when it writes. Results are
 * identical run to run: no atomics, and the split of a long reduction into chunks (two passes,
 * {@link LaunchGeometry#reduceChunks}) depends on the sizes only. Sums run in another order than the
 * CPU's, so they agree to rounding; max, min, argmax and argmin agree exactly (NaN propagates; ties
 * and NaN resolve as on the CPU).
 *
 * <p>Empty reductions: sum 0, mean NaN, variance NaN, logsumexp -&infin;; max, min, argmax and argmin
 * of n = 0 throw. Every check ({@link IllegalArgumentException} naming the shape) runs before the
 * first launch. Outputs must not overlap inputs.
 */
public final class CudaReduce {
    private CudaReduce() {}

    private static final String MODULE = "reduce";

    /** A reduction along n. */
    public enum Op {
        /** &Sigma; x. */
        SUM,
        /** &Sigma; x / n (NaN for n = 0). */
        MEAN,
        /** Largest element (NaN propagates). */
        MAX,
        /** Smallest element (NaN propagates). */
        MIN,
        /** int64 position of the largest element: the lowest on ties, the first NaN if any. */
        ARGMAX,
        /** int64 position of the smallest element: the lowest on ties, the first NaN if any. */
        ARGMIN,
        /** log &Sigma; exp(x), as m + log &Sigma; exp(x - m) with m the max (0 when infinite): two launches. */
        LOGSUMEXP
    }

    /**
     * {@code out[o, i] = op over j of x[o, j, i]}.
     *
     * @throws IllegalArgumentException for negative sizes, short buffers, or n = 0 with MAX, MIN, ARGMAX, ARGMIN
     */
    public static void reduce(Op op, CudaDType type, DeviceBuffer x, int outer, int n, int inner, DeviceBuffer out) {
        if (op == null) throw new IllegalArgumentException("reduction op is null");
        boolean arg = op == Op.ARGMAX || op == Op.ARGMIN;
        check(op.name().toLowerCase(), type, x, outer, n, inner, out, arg ? 8 : type.bytes());
        if ((op == Op.MAX || op == Op.MIN || arg) && n == 0 && (long) outer * inner > 0) {
            throw new IllegalArgumentException(op.name().toLowerCase() + " of an empty dim: x " + shape(outer, n, inner));
        }
        CudaDevice dev = Checks.sameDevice(x, out);
        long outputs = (long) outer * inner;
        if (outputs == 0) return;
        switch (op) {
            case SUM -> pass(dev, "sum", type, x, outer, n, inner, null, 1f, 1f, out, null, null);
            case MEAN -> pass(dev, "sum", type, x, outer, n, inner, null, n, n, out, null, null);
            case MAX -> pass(dev, "max", type, x, outer, n, inner, null, n, 1f, out, null, null);
            case MIN -> pass(dev, "min", type, x, outer, n, inner, null, n, 1f, out, null, null);
            case ARGMAX -> pass(dev, "argmax", type, x, outer, n, inner, null, n, 1f, null, null, out);
            case ARGMIN -> pass(dev, "argmin", type, x, outer, n, inner, null, n, 1f, null, null, out);
            case LOGSUMEXP -> {
                try (DeviceBuffer max = dev.allocate(4L * outputs)) {
                    pass(dev, "max", type, x, outer, n, inner, null, n, 1f, null, max, null);
                    pass(dev, "sumexp", type, x, outer, n, inner, max, n, 1f, out, null, null);
                }
            }
        }
    }

    /**
     * Variance along n: {@code out[o, i] = &Sigma;(x - mean)&sup2; / max(0, n - correction)}, the corrected
     * two-pass algorithm of the CPU (&Sigma;(x - mean)&sup2; - (&Sigma;(x - mean))&sup2; / n): one launch for the
     * means, one for the deviations. n - correction &le; 0 gives inf or NaN.
     *
     * @throws IllegalArgumentException for negative sizes or short buffers
     */
    public static void variance(CudaDType type, DeviceBuffer x, int outer, int n, int inner, int correction, DeviceBuffer out) {
        check("variance", type, x, outer, n, inner, out, type.bytes());
        CudaDevice dev = Checks.sameDevice(x, out);
        long outputs = (long) outer * inner;
        if (outputs == 0) return;
        float denom = (float) Math.max(0.0, (double) n - correction);
        try (DeviceBuffer mean = dev.allocate(4L * outputs)) {
            pass(dev, "sum", type, x, outer, n, inner, null, n, n, null, mean, null);
            pass(dev, "sqdev", type, x, outer, n, inner, mean, n, denom, out, null, null);
        }
    }

    /**
     * Softmax ({@code log} false: exp(x - m) / &Sigma; exp(x - m)) or log-softmax ({@code log} true:
     * (x - m) - log &Sigma; exp(x - m)) along n, m the max of the run; y [outer, n, inner].
     *
     * @throws IllegalArgumentException for negative sizes or short buffers
     */
    public static void softmax(CudaDType type, DeviceBuffer x, int outer, int n, int inner, boolean log, DeviceBuffer y) {
        check(log ? "log-softmax" : "softmax", type, x, outer, n, inner, null, 0);
        Checks.buffer("y", y, (long) outer * n * inner, type.bytes(), shape(outer, n, inner));
        CudaDevice dev = Checks.sameDevice(x, y);
        if ((long) outer * n * inner == 0) return;
        dev.launch(MODULE, (log ? "log_softmax_" : "softmax_") + type.suffix(), LaunchGeometry.reduce(outer, inner, 1), 0,
                x, outer, n, inner, y);
    }

    /**
     * Inclusive prefix sum along n: {@code y[o, j, i] = x[o, 0, i] + ... + x[o, j, i]}, accumulated in
     * double and rounded once per element (as the CPU does).
     *
     * @throws IllegalArgumentException for negative sizes or short buffers
     */
    public static void cumsum(CudaDType type, DeviceBuffer x, int outer, int n, int inner, DeviceBuffer y) {
        check("cumsum", type, x, outer, n, inner, null, 0);
        Checks.buffer("y", y, (long) outer * n * inner, type.bytes(), shape(outer, n, inner));
        CudaDevice dev = Checks.sameDevice(x, y);
        if ((long) outer * n * inner == 0) return;
        if (inner == 1) {
            dev.launch(MODULE, "cumsum_rows_" + type.suffix(), LaunchGeometry.cumsumRows(outer), 0, x, outer, n, y);
        } else {
            dev.launch(MODULE, "cumsum_cols_" + type.suffix(), LaunchGeometry.cumsumColumns((long) outer * inner), 0,
                    x, outer, n, inner, y);
        }
    }

    // ------------------------------------------------------------------ passes

    /**
     * One reduction: {@code reduce_<kernel>} over the chunks of n, and {@code reduce_finish_<kernel>}
     * over the partials when there is more than one chunk. Exactly one of out, outF (float), outI (int64) is set.
     */
    private static void pass(CudaDevice dev, String kernel, CudaDType type, DeviceBuffer x, int outer, int n, int inner,
                             DeviceBuffer shift, float count, float denom, DeviceBuffer out, DeviceBuffer outF, DeviceBuffer outI) {
        long outputs = (long) outer * inner;
        int chunks = LaunchGeometry.reduceChunks(outputs, n);
        int chunk = LaunchGeometry.reduceChunkLength(n, chunks);
        String name = kernel + "_" + type.suffix();
        if (chunks == 1) {
            dev.launch(MODULE, "reduce_" + name, LaunchGeometry.reduce(outer, inner, 1), 0,
                    x, outer, n, inner, chunk, shift, null, null, null, count, denom, out, outF, outI);
            return;
        }
        long parts = outputs * chunks;
        try (DeviceBuffer a = dev.allocate(4 * parts); DeviceBuffer b = dev.allocate(4 * parts); DeviceBuffer i = dev.allocate(4 * parts)) {
            dev.launch(MODULE, "reduce_" + name, LaunchGeometry.reduce(outer, inner, chunks), 0,
                    x, outer, n, inner, chunk, shift, a, b, i, count, denom, null, null, null);
            dev.launch(MODULE, "reduce_finish_" + name, LaunchGeometry.reduceFinish((int) outputs), 0,
                    (int) outputs, chunks, shift, a, b, i, count, denom, out, outF, outI);
        }
    }

    // ------------------------------------------------------------------ checks

    static String shape(int outer, int n, int inner) { return "[outer, n, inner] = [" + outer + ", " + n + ", " + inner + "]"; }

    /** Sizes, type and x; out (when given) as [outer, inner] of {@code outBytes}-byte elements. */
    static void check(String op, CudaDType type, DeviceBuffer x, int outer, int n, int inner, DeviceBuffer out, int outBytes) {
        if (type == null) throw new IllegalArgumentException(op + ": element type is null");
        if (outer < 0 || n < 0 || inner < 0) throw new IllegalArgumentException(op + ": sizes must be >= 0, got x " + shape(outer, n, inner));
        Checks.toInt(op + ": outer * n * inner", (long) outer * n * inner);
        Checks.buffer("x", x, (long) outer * n * inner, type.bytes(), shape(outer, n, inner));
        if (outBytes > 0) Checks.buffer("out", out, (long) outer * inner, outBytes, "[outer, inner] = [" + outer + ", " + inner + "]");
    }
}
