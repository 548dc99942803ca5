package dev.moe4j.tensor.ops;

import dev.moe4j.kernels.cpu.ReduceKernels;
import dev.moe4j.kernels.cpu.SoftmaxKernels;
import dev.moe4j.kernels.cuda.CudaReduce;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaReductions;

import java.util.Arrays;

/**
 * Reductions over dims, and softmax / log-softmax along a dim, with PyTorch's semantics; the
 * arithmetic runs in {@link ReduceKernels} and {@link SoftmaxKernels}.
 *
 * <p>Shapes: reducing dims R of x [d0, ..., dk-1] gives the kept dims in order, or with
 * {@code keepDim} the same rank with size 1 at each reduced dim. Dims may be negative (-1 is the
 * last); {@code null} or an empty array means all dims, giving a 0-dim tensor. A 0-dim input
 * accepts dim 0 or -1 and gives a 0-dim result.
 *
 * <p>Layouts: a single-dim reduction reads each output's run in place with the input's stride
 * (unit stride runs use the Vector API). A sum over several dims of a contiguous tensor whose
 * reduced dims are adjacent runs as row sums (reduced dims innermost) or column sums (kept dims
 * after them, e.g. summing a bias gradient over the batch of [B, T, d]); any other layout is first
 * permuted to [kept..., reduced...] and copied once.
 *
 * <p>Types: floating inputs reduce in F32 (halves widened, result rounded back) or F64; sum of an
 * integer or BOOL tensor is I64; max/min keep the input type; argmax/argmin give I64; mean, var,
 * softmax and log-softmax reject non-floating inputs (as PyTorch does); logsumexp promotes
 * integers to F32. Empty reductions: sum 0, mean NaN, var NaN, logsumexp -&infin;; max, min,
 * argmax and argmin of an empty dim are errors.
 *
 * <p>Devices: a tensor on a CUDA device is checked here, then reduced on its device by
 * {@link CudaReductions} (F32 and BF16; other dtypes are rejected there). Results stay on the device.
 */
public final class Reductions {
    private Reductions() {}

    // ------------------------------------------------------------------ sum / mean

    /**
     * Sum over {@code dims}; pairwise (float and double) so the rounding error grows like log n.
     *
     * @throws IllegalArgumentException for a repeated dim
     * @throws IndexOutOfBoundsException for a dim outside the rank
     */
    public static Tensor sum(Tensor a, int[] dims, boolean keepDim) {
        boolean[] reduced = reducedDims("sum", a, dims);
        if (!a.device().isCpu()) return shapeResult(CudaReductions.sum(a, reduced), a, reduced, keepDim);
        DType result = a.dtype().isFloatingPoint() ? a.dtype() : DType.I64;
        Tensor out = sumKept(a.to(Pointwise.computeType(result)), reduced);
        return shapeResult(out.to(result), a, reduced, keepDim);
    }

    /**
     * Mean over {@code dims}: the sum divided by the number of reduced elements (NaN when that is 0).
     *
     * @throws IllegalArgumentException for a non-floating input or a repeated dim
     */
    public static Tensor mean(Tensor a, int[] dims, boolean keepDim) {
        requireFloating("mean", a);
        boolean[] reduced = reducedDims("mean", a, dims);
        if (!a.device().isCpu()) return shapeResult(CudaReductions.mean(a, reduced), a, reduced, keepDim);
        Tensor s = sumKept(a.to(Pointwise.computeType(a.dtype())), reduced);
        long n = reducedCount(a, reduced);
        Tensor m = Pointwise.binaryScalar(Pointwise.Binary.DIV, s, (double) n);
        return shapeResult(m.to(a.dtype()), a, reduced, keepDim);
    }

    /** Sum of x (already in its kernel type) over the reduced dims, shaped as the kept dims. */
    private static Tensor sumKept(Tensor x, boolean[] reduced) {
        int[] keptShape = keptShape(x.shape(), reduced);
        Tensor out = Tensor.zeros(x.dtype(), keptShape);
        int n = (int) reducedCount(x, reduced);
        int outer = out.numel();
        if (n == 0 || outer == 0) return out;
        Object xs = array(x), os = array(out);
        int[] shape = x.shape();
        int[] block = x.isContiguous() ? adjacentBlock(shape, reduced) : null;
        if (block == null) {                                        // copy once into [kept..., reduced...]
            Tensor p = x.permute(keptThenReduced(reduced)).contiguous();
            for (int o = 0; o < outer; o++) sumRun(p.cpuStorage().array(), p.offset() + o * n, n, os, o);
            return out;
        }
        int before = block[0], inner = block[1];                   // [before, n, inner] row-major
        for (int o = 0; o < before; o++) {
            int base = x.offset() + o * n * inner;
            if (inner == 1) sumRun(xs, base, n, os, o);
            else sumColumns(xs, base, n, inner, os, o * inner);
        }
        return out;
    }

    /**
     * For a contiguous layout: when the reduced dims (ignoring size-1 dims) are adjacent, the sizes
     * {before, inner} of the kept dims before and after them; otherwise null.
     */
    private static int[] adjacentBlock(int[] shape, boolean[] reduced) {
        int first = -1, last = -1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1 || !reduced[i]) continue;
            if (first < 0) first = i;
            last = i;
        }
        if (first < 0) return new int[] {(int) Shape.numel(shape), 1};
        long before = 1, inner = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) continue;
            if (!reduced[i] && i > first && i < last) return null;  // a kept dim inside the reduced block
            if (!reduced[i] && i < first) before *= shape[i];
            if (!reduced[i] && i > last) inner *= shape[i];
        }
        return new int[] {(int) before, (int) inner};
    }

    private static void sumRun(Object x, int off, int n, Object out, int o) {
        switch (x) {
            case float[] v -> ((float[]) out)[o] = ReduceKernels.sum(v, off, 1, n);
            case double[] v -> ((double[]) out)[o] = ReduceKernels.sum(v, off, 1, n);
            case long[] v -> ((long[]) out)[o] = ReduceKernels.sum(v, off, 1, n);
            default -> throw new IllegalStateException("no sum kernel for " + x.getClass().getSimpleName());
        }
    }

    private static void sumColumns(Object x, int off, int rows, int cols, Object out, int outOff) {
        switch (x) {
            case float[] v -> ReduceKernels.sumColumns(v, off, rows, cols, cols, (float[]) out, outOff);
            case double[] v -> ReduceKernels.sumColumns(v, off, rows, cols, cols, (double[]) out, outOff);
            case long[] v -> ReduceKernels.sumColumns(v, off, rows, cols, cols, (long[]) out, outOff);
            default -> throw new IllegalStateException("no column-sum kernel for " + x.getClass().getSimpleName());
        }
    }

    // ------------------------------------------------------------------ max / min / argmax / argmin

    /**
     * Largest element along {@code dim} (values only; NaN propagates); keeps the input dtype.
     *
     * @throws IllegalArgumentException when the dim is empty
     */
    public static Tensor max(Tensor a, int dim, boolean keepDim) { return extreme("max", a, dim, keepDim); }

    /**
     * Smallest element along {@code dim} (values only; NaN propagates); keeps the input dtype.
     *
     * @throws IllegalArgumentException when the dim is empty
     */
    public static Tensor min(Tensor a, int dim, boolean keepDim) { return extreme("min", a, dim, keepDim); }

    /**
     * I64 index of the largest element along {@code dim}: the lowest on ties; a NaN counts as the largest.
     *
     * @throws IllegalArgumentException when the dim is empty
     */
    public static Tensor argmax(Tensor a, int dim, boolean keepDim) { return argExtreme("argmax", a, dim, keepDim); }

    /**
     * I64 index of the smallest element along {@code dim}: the lowest on ties; a NaN counts as the smallest.
     *
     * @throws IllegalArgumentException when the dim is empty
     */
    public static Tensor argmin(Tensor a, int dim, boolean keepDim) { return argExtreme("argmin", a, dim, keepDim); }

    private static Tensor extreme(String op, Tensor a, int dim, boolean keepDim) {
        Run run = run(op, a, dim);
        requireNonEmptyDim(op, a, dim, run.n);
        boolean isMax = op.equals("max");
        if (!a.device().isCpu()) {
            Tensor r = CudaReductions.reduce(isMax ? CudaReduce.Op.MAX : CudaReduce.Op.MIN, run.x, run.dim);
            return shapeResult(r, a, run.reducedOfInput, keepDim);
        }
        Tensor x = run.x.to(Pointwise.computeType(a.dtype()));
        int[] offsets = keptOffsets(x, run.dim);
        int stride = x.stride(run.dim);
        Tensor out = Tensor.zeros(x.dtype(), keptShape(x.shape(), run.reduced));
        Object xs = array(x);
        for (int k = 0; k < offsets.length; k++) {
            switch (xs) {
                case float[] v -> ((float[]) array(out))[k] = isMax ? ReduceKernels.max(v, offsets[k], stride, run.n) : ReduceKernels.min(v, offsets[k], stride, run.n);
                case double[] v -> ((double[]) array(out))[k] = isMax ? ReduceKernels.max(v, offsets[k], stride, run.n) : ReduceKernels.min(v, offsets[k], stride, run.n);
                case long[] v -> ((long[]) array(out))[k] = isMax ? ReduceKernels.max(v, offsets[k], stride, run.n) : ReduceKernels.min(v, offsets[k], stride, run.n);
                default -> throw new IllegalStateException("no " + op + " kernel for " + xs.getClass().getSimpleName());
            }
        }
        return shapeResult(out.to(a.dtype()), a, run.reducedOfInput, keepDim);
    }

    private static Tensor argExtreme(String op, Tensor a, int dim, boolean keepDim) {
        Run run = run(op, a, dim);
        requireNonEmptyDim(op, a, dim, run.n);
        boolean isMax = op.equals("argmax");
        if (!a.device().isCpu()) {
            Tensor r = CudaReductions.reduce(isMax ? CudaReduce.Op.ARGMAX : CudaReduce.Op.ARGMIN, run.x, run.dim);
            return shapeResult(r, a, run.reducedOfInput, keepDim);
        }
        Tensor x = run.x.to(Pointwise.computeType(a.dtype()));
        int[] offsets = keptOffsets(x, run.dim);
        int stride = x.stride(run.dim);
        Tensor out = Tensor.zeros(DType.I64, keptShape(x.shape(), run.reduced));
        long[] o = out.cpuStorage().longs();
        Object xs = array(x);
        for (int k = 0; k < offsets.length; k++) {
            o[k] = switch (xs) {
                case float[] v -> isMax ? ReduceKernels.argmax(v, offsets[k], stride, run.n) : ReduceKernels.argmin(v, offsets[k], stride, run.n);
                case double[] v -> isMax ? ReduceKernels.argmax(v, offsets[k], stride, run.n) : ReduceKernels.argmin(v, offsets[k], stride, run.n);
                case long[] v -> isMax ? ReduceKernels.argmax(v, offsets[k], stride, run.n) : ReduceKernels.argmin(v, offsets[k], stride, run.n);
                default -> throw new IllegalStateException("no " + op + " kernel for " + xs.getClass().getSimpleName());
            };
        }
        return shapeResult(out, a, run.reducedOfInput, keepDim);
    }

    // ------------------------------------------------------------------ logsumexp / var

    /**
     * log &Sigma; exp(x) along {@code dim}, computed as m + log &Sigma; exp(x - m) with m the max (0 when
     * m is infinite): no overflow, -&infin; for an all -&infin; (or empty) run. Integers give F32.
     */
    public static Tensor logsumexp(Tensor a, int dim, boolean keepDim) {
        Run run = run("logsumexp", a, dim);
        if (!a.device().isCpu()) return shapeResult(CudaReductions.reduce(CudaReduce.Op.LOGSUMEXP, run.x, run.dim), a, run.reducedOfInput, keepDim);
        DType result = a.dtype().isFloatingPoint() ? a.dtype() : DType.F32;
        Tensor x = run.x.to(Pointwise.computeType(result));
        int[] offsets = keptOffsets(x, run.dim);
        int stride = x.stride(run.dim);
        Tensor out = Tensor.zeros(x.dtype(), keptShape(x.shape(), run.reduced));
        Object xs = array(x);
        for (int k = 0; k < offsets.length; k++) {
            switch (xs) {
                case float[] v -> ((float[]) array(out))[k] = ReduceKernels.logSumExp(v, offsets[k], stride, run.n);
                case double[] v -> ((double[]) array(out))[k] = ReduceKernels.logSumExp(v, offsets[k], stride, run.n);
                default -> throw new IllegalStateException("no logsumexp kernel for " + xs.getClass().getSimpleName());
            }
        }
        return shapeResult(out.to(result), a, run.reducedOfInput, keepDim);
    }

    /**
     * Variance over {@code dims}: &Sigma;(x - mean)&sup2; / max(0, N - correction), N the number of
     * reduced elements (correction 1 is the unbiased estimate, PyTorch's default; 0 the population
     * variance). Corrected two-pass algorithm. N - correction &le; 0 gives inf or NaN, as in PyTorch.
     *
     * @throws IllegalArgumentException for a non-floating input or a repeated dim
     */
    public static Tensor var(Tensor a, int[] dims, int correction, boolean keepDim) {
        requireFloating("var", a);
        boolean[] reduced = reducedDims("var", a, dims);
        if (!a.device().isCpu()) return shapeResult(CudaReductions.var(a, reduced, correction), a, reduced, keepDim);
        Tensor x = a.to(Pointwise.computeType(a.dtype()));
        if (x.rank() == 0) x = x.reshape(1);
        boolean[] r = x.rank() == reduced.length ? reduced : new boolean[] {true};
        int n = (int) reducedCount(x, r);
        Tensor p = x.permute(keptThenReduced(r)).contiguous();
        Tensor out = Tensor.zeros(x.dtype(), keptShape(x.shape(), r));
        Object ps = array(p);
        for (int k = 0; k < out.numel(); k++) {
            int off = p.offset() + k * n;
            switch (ps) {
                case float[] v -> ((float[]) array(out))[k] = ReduceKernels.variance(v, off, 1, n, correction);
                case double[] v -> ((double[]) array(out))[k] = ReduceKernels.variance(v, off, 1, n, correction);
                default -> throw new IllegalStateException("no variance kernel for " + ps.getClass().getSimpleName());
            }
        }
        return shapeResult(out.to(a.dtype()), a, reduced, keepDim);
    }

    // ------------------------------------------------------------------ softmax

    /**
     * Softmax along {@code dim}: exp(x - max) / &Sigma; exp(x - max); same shape and dtype as a.
     *
     * @throws IllegalArgumentException for a non-floating input
     */
    public static Tensor softmax(Tensor a, int dim) { return softmaxLike("softmax", a, dim, false); }

    /**
     * log(softmax(x)) along {@code dim}, computed as (x - max) - log &Sigma; exp(x - max).
     *
     * @throws IllegalArgumentException for a non-floating input
     */
    public static Tensor logSoftmax(Tensor a, int dim) { return softmaxLike("logSoftmax", a, dim, true); }

    private static Tensor softmaxLike(String op, Tensor a, int dim, boolean log) {
        requireFloating(op, a);
        Run run = run(op, a, dim);
        if (!a.device().isCpu()) return CudaReductions.softmax(run.x, run.dim, log).reshape(a.shape());
        Tensor x = run.x.to(Pointwise.computeType(a.dtype()));
        Tensor out = Tensor.zeros(x.dtype(), x.shape());
        int[] xo = keptOffsets(x, run.dim), oo = keptOffsets(out, run.dim);
        int xs = x.stride(run.dim), os = out.stride(run.dim);
        Object xa = array(x), oa = array(out);
        for (int k = 0; k < xo.length; k++) {
            switch (xa) {
                case float[] v -> {
                    if (log) SoftmaxKernels.logSoftmax(v, xo[k], xs, (float[]) oa, oo[k], os, run.n);
                    else SoftmaxKernels.softmax(v, xo[k], xs, (float[]) oa, oo[k], os, run.n);
                }
                case double[] v -> {
                    if (log) SoftmaxKernels.logSoftmax(v, xo[k], xs, (double[]) oa, oo[k], os, run.n);
                    else SoftmaxKernels.softmax(v, xo[k], xs, (double[]) oa, oo[k], os, run.n);
                }
                default -> throw new IllegalStateException("no " + op + " kernel for " + xa.getClass().getSimpleName());
            }
        }
        return out.to(a.dtype()).reshape(a.shape());
    }

    // ------------------------------------------------------------------ dims and shapes

    /** A single-dim reduction: the input (a 0-dim input seen as [1]), the normalised dim and its size. */
    private record Run(Tensor x, int dim, int n, boolean[] reduced, boolean[] reducedOfInput) {}

    private static Run run(String op, Tensor a, int dim) {
        if (a.rank() == 0) {
            Shape.dim(dim, 1);                                      // only 0 and -1 are valid
            return new Run(a.reshape(1), 0, 1, new boolean[] {true}, new boolean[0]);
        }
        int d = Shape.dim(dim, a.rank());
        boolean[] r = new boolean[a.rank()];
        r[d] = true;
        return new Run(a, d, a.size(d), r, r);
    }

    /**
     * The reduced dims as flags: all for null or an empty array.
     *
     * @throws IllegalArgumentException for a repeated dim
     * @throws IndexOutOfBoundsException for a dim outside the rank
     */
    private static boolean[] reducedDims(String op, Tensor a, int[] dims) {
        int rank = a.rank();
        boolean[] r = new boolean[rank];
        if (dims == null || dims.length == 0) {
            Arrays.fill(r, true);
            return r;
        }
        boolean[] seen = new boolean[Math.max(rank, 1)];
        for (int d : dims) {
            int k = Shape.dim(d, Math.max(rank, 1));
            if (seen[k]) {
                throw new IllegalArgumentException(op + ": dim " + d + " appears more than once in dims " + Shape.str(dims)
                        + " for shape " + Shape.str(a.shape()));
            }
            seen[k] = true;
            if (rank > 0) r[k] = true;
        }
        return r;
    }

    private static long reducedCount(Tensor a, boolean[] reduced) {
        long n = 1;
        int[] shape = a.shape();
        for (int i = 0; i < shape.length; i++) if (reduced[i]) n *= shape[i];
        return n;
    }

    private static int[] keptShape(int[] shape, boolean[] reduced) {
        int k = 0;
        for (boolean r : reduced) if (!r) k++;
        int[] out = new int[k];
        for (int i = 0, j = 0; i < shape.length; i++) if (!reduced[i]) out[j++] = shape[i];
        return out;
    }

    /** Kept dims in order, then reduced dims in order: a permutation. */
    private static int[] keptThenReduced(boolean[] reduced) {
        int[] perm = new int[reduced.length];
        int j = 0;
        for (int i = 0; i < reduced.length; i++) if (!reduced[i]) perm[j++] = i;
        for (int i = 0; i < reduced.length; i++) if (reduced[i]) perm[j++] = i;
        return perm;
    }

    /** The result (shaped as the kept dims) reshaped for keepDim: size 1 at each reduced dim of a. */
    private static Tensor shapeResult(Tensor out, Tensor a, boolean[] reduced, boolean keepDim) {
        if (!keepDim || a.rank() == 0) return out;
        int[] shape = a.shape();
        for (int i = 0; i < shape.length; i++) if (reduced[i]) shape[i] = 1;
        return out.view(shape);
    }

    /** Storage offset of element 0 of the run along {@code dim}, for each kept position in row-major order. */
    private static int[] keptOffsets(Tensor x, int dim) {
        int[] shape = x.shape(), strides = x.strides();
        int rank = shape.length;
        long count = 1;
        for (int i = 0; i < rank; i++) if (i != dim) count *= shape[i];
        int[] offsets = new int[(int) count];
        if (count == 0) return offsets;
        int[] idx = new int[rank];
        int p = x.offset();
        for (int k = 0; k < count; k++) {
            offsets[k] = p;
            for (int i = rank - 1; i >= 0; i--) {                  // odometer over the kept dims
                if (i == dim) continue;
                idx[i]++;
                p += strides[i];
                if (idx[i] < shape[i]) break;
                p -= strides[i] * shape[i];
                idx[i] = 0;
            }
        }
        return offsets;
    }

    private static void requireFloating(String op, Tensor a) {
        if (!a.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException(op + ": needs a floating-point tensor, got " + a.dtype() + " of shape "
                    + Shape.str(a.shape()) + "; convert with to(DType.F32) first");
        }
    }

    private static void requireNonEmptyDim(String op, Tensor a, int dim, int n) {
        if (n == 0) {
            throw new IllegalArgumentException(op + ": dim " + dim + " of shape " + Shape.str(a.shape())
                    + " is empty; the " + op + " of no elements is undefined");
        }
    }

    private static Object array(Tensor t) { return t.cpuStorage().array(); }
}
