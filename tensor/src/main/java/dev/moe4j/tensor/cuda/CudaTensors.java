package dev.moe4j.tensor.cuda;

import dev.moe4j.kernels.cuda.CudaDType;
import dev.moe4j.kernels.cuda.CudaDevice;
import dev.moe4j.kernels.cuda.DeviceBuffer;
import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;

/**
 * Tensors on CUDA devices: transfers between the host and a device, copies, and the matrix product
 * through cuBLAS. {@link Tensor#to(Device)} and {@link Tensor#matmul} come here for device tensors;
 * the MoE kernels on device tensors are in {@link CudaMoe}.
 *
 * <p>Transfers move the bytes of the dtype's CPU array unchanged (bf16 stays bf16). A view that is
 * not contiguous moves the storage span it addresses and is made contiguous on the host. Device
 * tensors support views (view, transpose, narrow, expand, ...), {@code to}, {@code cpu},
 * {@code copy} / {@code contiguous} (the strided-copy kernel), {@code matmul}, and the pointwise
 * operations of {@link CudaPointwise}; reductions and softmax run in {@link CudaReductions},
 * gathers, scatters, sorting, cumsum and cat in {@link CudaIndexing}. Element access needs the
 * tensor on the CPU first.
 */
public final class CudaTensors {
    private CudaTensors() {}

    /**
     * The {@link CudaDevice} of ordinal {@code ordinal}.
     *
     * @throws IllegalStateException naming the reason when CUDA is unavailable
     */
    public static CudaDevice device(int ordinal) {
        return CudaDevice.get(ordinal);
    }

    /** The device storage of a CUDA tensor. @throws IllegalArgumentException for a tensor elsewhere */
    public static CudaStorage storage(Tensor t) {
        if (!(t.storage() instanceof CudaStorage s)) throw new IllegalArgumentException("tensor is on " + t.device() + ", not a CUDA device");
        return s;
    }

    /** The elements of a contiguous CUDA tensor as a device buffer slice. */
    public static DeviceBuffer buffer(Tensor t) {
        if (!t.isContiguous()) throw new IllegalArgumentException("a contiguous tensor is needed, got strides " + Shape.str(t.strides()) + " for shape " + Shape.str(t.shape()));
        return storage(t).slice(t.offset(), t.numel());
    }

    /** A new contiguous tensor on CUDA device {@code ordinal} (contents undefined). */
    public static Tensor empty(DType dtype, int ordinal, int... shape) {
        CudaStorage s = CudaStorage.allocate(dtype, Shape.numel(shape), ordinal);
        return new Tensor(s, shape, Shape.contiguousStrides(shape), 0);
    }

    /** The kernels' element type of a tensor dtype. @throws IllegalArgumentException for other than F32 and BF16 */
    public static CudaDType kernelType(DType dtype, String op) {
        return switch (dtype) {
            case F32 -> CudaDType.F32;
            case BF16 -> CudaDType.BF16;
            default -> throw new IllegalArgumentException(op + " on a CUDA device computes in F32 or BF16, not " + dtype);
        };
    }

    // ------------------------------------------------------------------ transfers

    /** {@code t} on {@code device}: an upload, a download, or both (between two GPUs). */
    public static Tensor to(Tensor t, Device device) {
        if (t.device().equals(device)) return t;
        if (device.isCpu()) return toCpu(t);
        Tensor host = t.device().isCpu() ? t : toCpu(t);
        return upload(host, device.index());
    }

    private static Tensor upload(Tensor t, int ordinal) {
        Tensor c = t.contiguous();
        int n = c.numel();
        Tensor out = empty(c.dtype(), ordinal, c.shape());
        if (n == 0) return out;
        DeviceBuffer dst = storage(out).buffer();
        CpuStorage s = c.cpuStorage();
        int off = c.offset();
        switch (c.dtype()) {
            case F32 -> dst.write(s.floats(), off, n, 0);
            case F64 -> dst.write(s.doubles(), off, n, 0);
            case BF16, F16, I16 -> dst.write(s.shorts(), off, n, 0);
            case I32 -> dst.write(s.ints(), off, n, 0);
            case I64 -> dst.write(s.longs(), off, n, 0);
            case I8, U8, BOOL -> dst.write(s.bytes(), off, n, 0);
        }
        return out;
    }

    private static Tensor toCpu(Tensor t) {
        CudaStorage s = storage(t);
        int[] shape = t.shape(), strides = t.strides();
        if (t.numel() == 0) return Tensor.zeros(t.dtype(), shape);
        long lo = t.offset(), hi = t.offset();                // the storage span the view addresses
        for (int i = 0; i < shape.length; i++) {
            long span = (long) (shape[i] - 1) * strides[i];
            if (span < 0) lo += span; else hi += span;
        }
        int count = (int) (hi - lo + 1);
        CpuStorage host = CpuStorage.allocate(t.dtype(), count);
        long at = lo * t.dtype().byteSize();
        switch (t.dtype()) {
            case F32 -> s.buffer().read(at, host.floats(), 0, count);
            case F64 -> s.buffer().read(at, host.doubles(), 0, count);
            case BF16, F16, I16 -> s.buffer().read(at, host.shorts(), 0, count);
            case I32 -> s.buffer().read(at, host.ints(), 0, count);
            case I64 -> s.buffer().read(at, host.longs(), 0, count);
            case I8, U8, BOOL -> s.buffer().read(at, host.bytes(), 0, count);
        }
        return new Tensor(host, shape, strides, (int) (t.offset() - lo)).contiguous();
    }

    /** A contiguous copy of a CUDA tensor on the same device (a device-to-device copy, or the strided-copy kernel for a view). */
    public static Tensor copy(Tensor t) {
        if (!t.isContiguous()) return CudaPointwise.copy(t);
        Tensor out = empty(t.dtype(), t.device().index(), t.shape());
        long bytes = (long) t.numel() * t.dtype().byteSize();
        storage(out).buffer().copyFrom(storage(t).buffer(), (long) t.offset() * t.dtype().byteSize(), 0, bytes);
        return out;
    }

    // ------------------------------------------------------------------ matmul

    /**
     * {@code torch.matmul} of two tensors on one CUDA device, F32 or BF16, through cuBLAS
     * ({@code cublasSgemm}, {@code cublasGemmEx} with float accumulation for bf16); the result is a new
     * contiguous device tensor of the operands' dtype. Matrices with a unit stride on either side
     * (row-major or transposed views) are read in place; a batch whose operands sit at a constant
     * stride runs as one strided-batched call, any other batch as one call per matrix.
     *
     * @throws IllegalArgumentException for a 0-dim operand, mismatched dtypes, a dtype other than F32
     *         or BF16, inner sizes that differ, or batch dims that do not broadcast
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        String shapes = "matmul of shapes " + Shape.str(a.shape()) + " and " + Shape.str(b.shape());
        if (a.rank() == 0 || b.rank() == 0) throw new IllegalArgumentException(shapes + ": both operands need at least one dim");
        if (a.dtype() != b.dtype()) throw new IllegalArgumentException(shapes + ": dtypes differ (" + a.dtype() + " vs " + b.dtype() + ")");
        CudaDType type = kernelType(a.dtype(), "matmul");
        Tensor a2 = a.rank() == 1 ? a.unsqueeze(0) : a;
        Tensor b2 = b.rank() == 1 ? b.unsqueeze(1) : b;
        int m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
        if (b2.size(-2) != k) throw new IllegalArgumentException(shapes + ": inner sizes differ (" + k + " vs " + b2.size(-2) + ")");
        int[] batch;
        try {
            batch = Shape.broadcast(Arrays.copyOf(a2.shape(), a2.rank() - 2), Arrays.copyOf(b2.shape(), b2.rank() - 2));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(shapes + ": batch dims do not broadcast", e);
        }
        int[] full = Arrays.copyOf(batch, batch.length + 2);
        full[batch.length] = m;
        full[batch.length + 1] = n;
        Tensor out = empty(a.dtype(), a.device().index(), full);
        int count = (int) Shape.numel(batch);
        if (count > 0 && m > 0 && n > 0 && k == 0) {
            storage(out).buffer().zero();                  // an empty sum
        } else if (count > 0 && m > 0 && n > 0) {
            Operand x = Operand.of(a2, batch, m, k), y = Operand.of(b2, batch, k, n);
            CudaStorage cs = storage(out);
            var blas = device(a.device().index()).blas();
            long sx = x.uniformStride(), sy = y.uniformStride();
            if (count == 1 || (sx != Long.MIN_VALUE && sy != Long.MIN_VALUE)) {
                blas.gemmStridedBatched(type, x.transposed, y.transposed, m, n, k, 1f, x.from(0), x.ld, count == 1 ? 0 : sx,
                        y.from(0), y.ld, count == 1 ? 0 : sy, 0f, cs.buffer(), n, (long) m * n, count);
            } else {
                for (int i = 0; i < count; i++) {
                    blas.gemm(type, x.transposed, y.transposed, m, n, k, 1f, x.from(i), x.ld, y.from(i), y.ld, 0f,
                            cs.slice((long) i * m * n, (long) m * n), n);
                }
            }
        }
        int[] shape = Arrays.copyOf(batch, batch.length + (a.rank() > 1 ? 1 : 0) + (b.rank() > 1 ? 1 : 0));
        int d = batch.length;
        if (a.rank() > 1) shape[d++] = m;
        if (b.rank() > 1) shape[d] = n;
        return out.view(shape);
    }

    /** A matrix operand broadcast over the batch: where each matrix starts, and how cuBLAS reads it. */
    private static final class Operand {
        final CudaStorage storage;
        final long[] starts;          // element offset of each batch matrix
        final boolean transposed;     // stored as [cols, rows] row-major
        final int ld;

        private Operand(CudaStorage storage, long[] starts, boolean transposed, int ld) {
            this.storage = storage;
            this.starts = starts;
            this.transposed = transposed;
            this.ld = ld;
        }

        static Operand of(Tensor t, int[] batch, int rows, int cols) {
            int[] target = Arrays.copyOf(batch, batch.length + 2);
            target[batch.length] = rows;
            target[batch.length + 1] = cols;
            Tensor e = t.expand(target);
            int rs = e.stride(-2), cs = e.stride(-1);
            boolean rowMajor = cs == 1 && (rows == 1 || rs >= cols);
            boolean colMajor = !rowMajor && rs == 1 && (cols == 1 || cs >= rows);
            if (!rowMajor && !colMajor) {
                e = copy(t).expand(target);           // contiguous: row-major
                rs = e.stride(-2);
                rowMajor = true;
            }
            int ld = rowMajor ? (rows == 1 ? Math.max(cols, 1) : rs) : (cols == 1 ? Math.max(rows, 1) : e.stride(-1));
            int count = (int) Shape.numel(batch);
            long[] starts = new long[count];
            int[] idx = new int[batch.length];
            int[] st = e.strides();
            for (int i = 0; i < count; i++) {
                long off = e.offset();
                for (int dd = 0; dd < batch.length; dd++) off += (long) idx[dd] * st[dd];
                starts[i] = off;
                for (int dd = batch.length - 1; dd >= 0; dd--) {
                    if (++idx[dd] < batch[dd]) break;
                    idx[dd] = 0;
                }
            }
            return new Operand(storage(e), starts, !rowMajor, ld);
        }

        /** The common difference of the starts, or Long.MIN_VALUE when they are not evenly spaced. */
        long uniformStride() {
            if (starts.length < 2) return 0;
            long s = starts[1] - starts[0];
            if (s < 0) return Long.MIN_VALUE;
            for (int i = 2; i < starts.length; i++) if (starts[i] - starts[i - 1] != s) return Long.MIN_VALUE;
            return s;
        }

        /** The buffer from batch matrix i's first element to the end of the storage. */
        DeviceBuffer from(int i) {
            return storage.slice(starts[i], storage.size() - starts[i]);
        }
    }
}
