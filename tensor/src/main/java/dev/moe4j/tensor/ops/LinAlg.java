package dev.moe4j.tensor.ops;

import dev.moe4j.kernels.cpu.Gemm;
import dev.moe4j.kernels.cpu.Parallel;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Devices;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * Matrix products on tensors, dispatched to the GEMM kernels of {@link Gemm}.
 *
 * <h2>{@link #matmul} semantics (as {@code torch.matmul})</h2>
 * <pre>
 *   [k]          x [k]          -> []            dot product
 *   [m, k]       x [k, n]       -> [m, n]
 *   [k]          x [..., k, n]  -> [..., n]      the vector is taken as [1, k], that dim removed after
 *   [..., m, k]  x [k]          -> [..., m]      the vector is taken as [k, 1], that dim removed after
 *   [..., m, k]  x [..., k, n]  -> [..., m, n]   batch dims broadcast (numpy rules)
 * </pre>
 *
 * <h2>Kernels and views</h2>
 * F32 runs {@link Gemm#sgemm}, F64 {@link Gemm#dgemm}; BF16 and F16 are converted to F32, multiplied
 * there, and the result is rounded back to the input type. The GEMM kernels read each operand
 * through a (row stride, column stride) pair, so a matrix whose last two dims have a unit stride
 * on either side (row-major, or a transposed view such as {@code w.mT()}) is passed as is, with no
 * copy; a broadcast batch dim is a stride of 0 and costs nothing either. Any other layout is made
 * contiguous first. When the right operand is one matrix shared by the whole batch and the left
 * operand's batch rows lie at one stride (e.g. {@code x[B, T, d] @ w.mT()}), the batch is folded
 * into the rows of a single GEMM.
 *
 * <p>Integer and BOOL tensors are rejected ({@link IllegalArgumentException}), as are operands of
 * different dtypes and shapes that do not multiply; messages name both shapes.
 */
public final class LinAlg {
    private LinAlg() {}

    /** Below this many flops per matrix, a batch is split over threads by batch element rather than inside each GEMM. */
    private static final double SMALL_GEMM_FLOPS = 1 << 19;

    /**
     * Matrix product with {@code torch.matmul} semantics (see the class comment); a new contiguous
     * tensor of the operands' dtype.
     *
     * @throws IllegalArgumentException for a 0-dim operand, mismatched dtypes, a non-floating
     *         dtype, inner sizes that differ, or batch dims that do not broadcast
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        Devices.requireSame("matmul", a, b);
        if (!a.device().isCpu()) return dev.moe4j.tensor.cuda.CudaTensors.matmul(a, b);   // cuBLAS
        String shapes = "matmul of shapes " + Shape.str(a.shape()) + " and " + Shape.str(b.shape());
        if (a.rank() == 0 || b.rank() == 0) {
            throw new IllegalArgumentException(shapes + ": both operands need at least one dim");
        }
        DType dtype = a.dtype();
        if (dtype != b.dtype()) {
            throw new IllegalArgumentException(shapes + ": dtypes differ (" + dtype + " vs " + b.dtype() + ")");
        }
        if (!dtype.isFloatingPoint()) {
            throw new IllegalArgumentException(shapes + ": matmul computes in F32, F64, BF16 or F16, not " + dtype);
        }
        Tensor a2 = a.rank() == 1 ? a.unsqueeze(0) : a;       // [k] -> [1, k]
        Tensor b2 = b.rank() == 1 ? b.unsqueeze(1) : b;       // [k] -> [k, 1]
        int m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
        if (b2.size(-2) != k) {
            throw new IllegalArgumentException(shapes + ": inner sizes differ (" + k + " vs " + b2.size(-2) + ")");
        }
        int[] batch;
        try {
            batch = Shape.broadcast(Arrays.copyOf(a2.shape(), a2.rank() - 2), Arrays.copyOf(b2.shape(), b2.rank() - 2));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(shapes + ": batch dims do not broadcast", e);
        }
        int[] full = Arrays.copyOf(batch, batch.length + 2);    // batch + [m, n]
        full[batch.length] = m;
        full[batch.length + 1] = n;

        DType compute = dtype == DType.F64 ? DType.F64 : DType.F32;
        Tensor out = Tensor.zeros(compute, full);
        if (out.numel() > 0 && k > 0) {
            Tensor x = operand(a2.to(compute), batch, m, k);
            Tensor y = operand(b2.to(compute), batch, k, n);
            multiply(x, y, out, batch, m, n, k);
        }
        if (compute != dtype) out = out.to(dtype);

        // Drop the dims that stood in for 1-D operands: batch + [m if a was a matrix] + [n if b was].
        int[] shape = Arrays.copyOf(batch, batch.length + (a.rank() > 1 ? 1 : 0) + (b.rank() > 1 ? 1 : 0));
        int d = batch.length;
        if (a.rank() > 1) shape[d++] = m;
        if (b.rank() > 1) shape[d] = n;
        return out.view(shape);
    }

    /**
     * The operand broadcast to {@code batch + [rows, cols]}; a view when its matrix dims have a unit
     * stride on one side (what the kernels read in place), a contiguous copy otherwise.
     */
    private static Tensor operand(Tensor t, int[] batch, int rows, int cols) {
        int rs = t.stride(-2), cs = t.stride(-1);
        boolean readable = rs == 1 || cs == 1 || rows == 1 || cols == 1;
        Tensor base = readable ? t : t.contiguous();
        int[] target = Arrays.copyOf(batch, batch.length + 2);
        target[batch.length] = rows;
        target[batch.length + 1] = cols;
        return base.expand(target);
    }

    /** out[batch..., m, n] = x[batch..., m, k] * y[batch..., k, n], with out contiguous and zero. */
    private static void multiply(Tensor x, Tensor y, Tensor out, int[] batch, int m, int n, int k) {
        int nb = batch.length;
        int[] xs = x.strides(), ys = y.strides();
        int xRs = xs[nb], xCs = xs[nb + 1], yRs = ys[nb], yCs = ys[nb + 1];
        int count = (int) Shape.numel(batch);

        // One shared right matrix and left rows at one stride: fold the batch into the rows.
        int foldedRowStride = foldedRowStride(x, batch, m);
        boolean sharedY = true;
        for (int d = 0; d < nb; d++) sharedY &= ys[d] == 0 || batch[d] == 1;
        if (count > 1 && sharedY && foldedRowStride != Integer.MIN_VALUE) {
            gemm(count * m, n, k, x, x.offset(), foldedRowStride, xCs, y, y.offset(), yRs, yCs, out, 0, n);
            return;
        }

        int[] xOff = batchOffsets(x.offset(), xs, batch);
        int[] yOff = batchOffsets(y.offset(), ys, batch);
        if (count > 1 && Gemm.flops(m, n, k) < SMALL_GEMM_FLOPS) {
            Parallel.forEach(count, q -> gemm(m, n, k, x, xOff[q], xRs, xCs, y, yOff[q], yRs, yCs, out, q * m * n, n));
        } else {
            for (int q = 0; q < count; q++) gemm(m, n, k, x, xOff[q], xRs, xCs, y, yOff[q], yRs, yCs, out, q * m * n, n);
        }
    }

    /**
     * The single row stride at which all {@code count * m} rows of {@code x} lie, when its batch
     * dims and row dim merge into one dim; {@link Integer#MIN_VALUE} when they do not.
     */
    private static int foldedRowStride(Tensor x, int[] batch, int m) {
        int nb = batch.length;
        int[] shape = x.shape(), strides = x.strides();
        int stride = m == 1 ? Integer.MIN_VALUE : strides[nb];
        int extent = m;                          // rows covered so far, innermost first
        for (int d = nb - 1; d >= 0; d--) {
            if (shape[d] == 1) continue;
            if (stride == Integer.MIN_VALUE) {   // rows so far are a single row: this dim sets the stride
                stride = strides[d];
            } else if (strides[d] != stride * extent) {
                return Integer.MIN_VALUE;
            }
            extent *= shape[d];
        }
        return stride == Integer.MIN_VALUE ? 1 : stride;      // a single row in all: any stride will do
    }

    /** Storage offset of matrix {@code q} (row-major over {@code batch}) of a view with {@code strides}. */
    private static int[] batchOffsets(int base, int[] strides, int[] batch) {
        int count = (int) Shape.numel(batch);
        int[] off = new int[count];
        int[] idx = new int[batch.length];
        int p = base;
        for (int q = 0; q < count; q++) {
            off[q] = p;
            for (int d = batch.length - 1; d >= 0; d--) {
                idx[d]++;
                p += strides[d];
                if (idx[d] < batch[d]) break;
                p -= strides[d] * batch[d];
                idx[d] = 0;
            }
        }
        return off;
    }

    private static void gemm(int m, int n, int k, Tensor x, int xOff, int xRs, int xCs,
                             Tensor y, int yOff, int yRs, int yCs, Tensor out, int outOff, int ldc) {
        if (out.dtype() == DType.F64) {
            Gemm.dgemm(m, n, k, 1.0, x.cpuStorage().doubles(), xOff, xRs, xCs, y.cpuStorage().doubles(), yOff, yRs, yCs,
                    0.0, out.cpuStorage().doubles(), outOff, ldc);
        } else {
            Gemm.sgemm(m, n, k, 1f, x.cpuStorage().floats(), xOff, xRs, xCs, y.cpuStorage().floats(), yOff, yRs, yCs,
                    0f, out.cpuStorage().floats(), outOff, ldc);
        }
    }
}
