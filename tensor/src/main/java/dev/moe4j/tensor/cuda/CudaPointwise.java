package dev.moe4j.tensor.cuda;

import dev.moe4j.kernels.cpu.BinaryOp;
import dev.moe4j.kernels.cpu.CompareOp;
import dev.moe4j.kernels.cpu.UnaryOp;
import dev.moe4j.kernels.cuda.CudaElementwise;
import dev.moe4j.kernels.cuda.CudaElementwise.Operand;
import dev.moe4j.kernels.cuda.CudaElementwise.Type;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Devices;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The pointwise tensor operations on CUDA devices, through {@link CudaElementwise}: what
 * {@link dev.moe4j.tensor.ops.Pointwise} runs for device operands after its shape and type checks,
 * plus dtype conversion, fills, strided copies and {@code copyFrom} for {@link Tensor}.
 *
 * <p>Device dtypes: F32 and BF16 (computed in float), I32, I64 and BOOL (computed in 64-bit
 * integers). F64, F16, I16, I8 and U8 tensors can be moved to a device and copied there, but an
 * operation that computes on them throws an {@link IllegalArgumentException} naming the dtype.
 *
 * <p>Type rules are the CPU's: when every operand already has the result type the kernel reads them
 * directly (BF16 is widened exactly, so this equals the CPU's "convert to F32, compute, round");
 * otherwise the operands are first converted to the compute type (F32 or I64) on the device, the
 * kernel computes in it, and the result is converted to the result type, exactly the CPU's steps.
 * Results are new contiguous device tensors; the in-place forms write through the given view.
 * Broadcast, transposed and sliced operands are read in place, without copies.
 */
public final class CudaPointwise {
    private CudaPointwise() {}

    // ------------------------------------------------------------------ operands

    /**
     * The kernels' element type of {@code dtype}.
     *
     * @throws IllegalArgumentException for F64, F16, I16, I8 and U8
     */
    public static Type kernelType(DType dtype, String op) {
        return switch (dtype) {
            case F32 -> Type.F32;
            case BF16 -> Type.BF16;
            case I32 -> Type.I32;
            case I64 -> Type.I64;
            case BOOL -> Type.BOOL;
            default -> throw new IllegalArgumentException(op + " on a CUDA device supports F32, BF16, I32, I64 and BOOL tensors, not "
                    + dtype + (dtype == DType.F64 ? " (move F64 tensors to the CPU, or convert them there)" : ""));
        };
    }

    /** A device tensor as a kernel operand (its view strides, read in place). */
    static Operand operand(Tensor t, String op) {
        CudaStorage s = CudaTensors.storage(t);
        return new Operand(s.slice(t.offset(), s.size() - (long) t.offset()), kernelType(t.dtype(), op), t.strides());
    }

    /** A device tensor expanded to {@code shape} (stride 0 on broadcast dims) as a kernel operand. */
    static Operand operand(Tensor t, int[] shape, String op) {
        return operand(t.expand(shape), op);
    }

    /**
     * The inputs expanded to {@code shape}, read in place; when they and a contiguous output keep more
     * than {@link CudaElementwise#MAX_RANK} dims after merging, contiguous copies instead.
     */
    private static Tensor[] fit(int[] shape, Tensor... inputs) {
        Tensor[] e = new Tensor[inputs.length];
        int[][] strides = new int[inputs.length + 1][];
        for (int i = 0; i < inputs.length; i++) {
            e[i] = inputs[i].expand(shape);
            strides[i] = e[i].strides();
        }
        strides[inputs.length] = Shape.contiguousStrides(shape);
        if (CudaElementwise.mergedRank(shape, strides) > CudaElementwise.MAX_RANK) {
            for (int i = 0; i < e.length; i++) e[i] = e[i].contiguous();
        }
        return e;
    }

    private static Tensor empty(DType dtype, Device device, int[] shape) {
        return CudaTensors.empty(dtype, device.index(), shape);
    }

    private static boolean supported(DType t) {
        return t == DType.F32 || t == DType.BF16 || t == DType.I32 || t == DType.I64 || t == DType.BOOL;
    }

    /** The kernels' compute type for result type {@code t}: F32 for the float types, I64 for integers and BOOL. */
    private static DType computeType(DType t, String op) {
        if (t == DType.F32 || t == DType.BF16) return DType.F32;
        if (t == DType.I32 || t == DType.I64 || t == DType.BOOL) return DType.I64;
        kernelType(t, op);                         // throws, naming the dtype
        throw new AssertionError(t);
    }

    // ------------------------------------------------------------------ creation, copies, conversion

    /** A new device tensor of zeros (all bits zero: 0, +0.0 or false). */
    public static Tensor zeros(DType dtype, Device device, int... shape) {
        Tensor t = empty(dtype, device, shape);
        if (t.numel() > 0) CudaTensors.storage(t).buffer().zero();
        return t;
    }

    /** A new device tensor filled with {@code value} (converted as the CPU stores a double). */
    public static Tensor full(DType dtype, Device device, double value, int... shape) {
        if (value == 0 && Double.doubleToRawLongBits(value) == 0) return zeros(dtype, device, shape);
        return fill(empty(dtype, device, shape), value);
    }

    /** Sets every element of the device view {@code t} to {@code value}, in place; bumps the storage version. */
    public static Tensor fill(Tensor t, double value) {
        if (t.numel() > 0) CudaElementwise.fill(t.shape(), operand(t, "fill"), value);
        t.storage().bumpVersion();
        return t;
    }

    /**
     * A contiguous copy of a device tensor on its device, bit for bit, any dtype: one strided-copy
     * kernel (views with more than {@link CudaElementwise#MAX_RANK} dims after merging go through
     * the host).
     */
    public static Tensor copy(Tensor t) {
        Tensor out = empty(t.dtype(), t.device(), t.shape());
        if (t.numel() == 0) return out;
        if (CudaElementwise.mergedRank(t.shape(), t.strides(), out.strides()) > CudaElementwise.MAX_RANK) {
            return t.cpu().to(t.device());
        }
        CudaStorage s = CudaTensors.storage(t);
        CudaElementwise.copy(t.shape(), t.dtype().byteSize(), s.slice(t.offset(), s.size() - (long) t.offset()), t.strides(),
                CudaTensors.storage(out).buffer(), out.strides());
        return out;
    }

    /** {@code t} converted to {@code dtype} on its device ({@link Tensor#to(DType)} semantics); a new contiguous tensor. */
    public static Tensor cast(Tensor t, DType dtype) {
        if (t.dtype() == dtype) return t;
        Type from = kernelType(t.dtype(), "to(" + dtype + ")"), to = kernelType(dtype, "to(" + dtype + ")");
        Tensor out = empty(dtype, t.device(), t.shape());
        if (t.numel() == 0) return out;
        Tensor src = fit(t.shape(), t)[0];
        CudaElementwise.cast(t.shape(), new Operand(operand(src, "to").buffer(), from, src.strides()),
                new Operand(CudaTensors.storage(out).buffer(), to, out.strides()));
        return out;
    }

    /**
     * {@code dst} (a device view) = {@code src} converted to dst's dtype and broadcast to dst's shape,
     * in place ({@link Tensor#copyFrom}); bumps dst's storage version.
     *
     * @throws IllegalArgumentException when the devices differ, src does not broadcast to dst's shape,
     *         or dst is a broadcast view (a stride of 0 over a dim of more than one element); other
     *         self-overlapping views are not detected
     */
    public static Tensor copyInto(Tensor dst, Tensor src) {
        Devices.requireSame("copyFrom", dst, src);
        int[] shape = dst.shape();
        Tensor s;
        try {
            s = src.expand(shape);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("copyFrom: source of shape " + Shape.str(src.shape()) + " does not broadcast to "
                    + Shape.str(shape), e);
        }
        if (dst.numel() > 0) {
            if (src.storage() == dst.storage()) s = copy(src).expand(shape);      // reading what we write: a snapshot
            if (s.dtype() == dst.dtype()) {
                CudaStorage ss = CudaTensors.storage(s), ds = CudaTensors.storage(dst);
                CudaElementwise.copy(shape, dst.dtype().byteSize(), ss.slice(s.offset(), ss.size() - (long) s.offset()), s.strides(),
                        ds.slice(dst.offset(), ds.size() - (long) dst.offset()), dst.strides());
            } else {
                CudaElementwise.cast(shape, operand(s, "copyFrom"), operand(dst, "copyFrom"));
            }
        }
        dst.storage().bumpVersion();
        return dst;
    }

    /** The single element of a one-element device tensor, downloaded. */
    public static double item(Tensor t) {
        return t.cpu().item();
    }

    // ------------------------------------------------------------------ unary

    /**
     * {@code op(a)} with the result dtype the CPU chose ({@code result}); computed on a's device.
     *
     * @throws IllegalArgumentException for dtypes the device does not compute in
     */
    public static Tensor unary(UnaryOp op, Tensor a, DType result) {
        String name = op.name().toLowerCase();
        int[] shape = a.shape();
        boolean direct = a.dtype() == result && (result == DType.F32 || result == DType.BF16
                || (op.isIntegral() && (result == DType.I32 || result == DType.I64)));
        DType compute = direct ? result : computeType(result, name);
        Tensor x = fit(shape, direct ? a : a.to(compute))[0];
        Tensor out = empty(compute, a.device(), shape);
        if (out.numel() > 0) CudaElementwise.unary(op, shape, operand(x, name), operand(out, name));
        return out.to(result);
    }

    // ------------------------------------------------------------------ binary

    /** {@code op(a, b)} broadcast to {@code shape}, result dtype {@code result} (chosen and checked by the caller). */
    public static Tensor binary(BinaryOp op, Tensor a, Tensor b, int[] shape, DType result) {
        String name = op.name().toLowerCase();
        boolean direct = a.dtype() == result && b.dtype() == result && result != DType.BOOL && supported(result);
        DType compute = direct ? result : computeType(result, name);
        Tensor[] xy = fit(shape, a.to(compute), b.to(compute));
        Tensor x = xy[0], y = xy[1];
        Tensor out = empty(compute, a.device(), shape);
        if (out.numel() > 0) CudaElementwise.binary(op, shape, operand(x, shape, name), operand(y, shape, name), operand(out, name));
        return out.to(result);
    }

    /** {@code op(a, s)}, result dtype {@code result} (chosen and checked by the caller). */
    public static Tensor binaryScalar(BinaryOp op, Tensor a, double s, DType result) {
        String name = op.name().toLowerCase();
        boolean direct = a.dtype() == result && result != DType.BOOL && supported(result);
        DType compute = direct ? result : computeType(result, name);
        Tensor x = fit(a.shape(), a.to(compute))[0];
        Tensor out = empty(compute, a.device(), a.shape());
        if (out.numel() > 0) CudaElementwise.binaryScalar(op, a.shape(), operand(x, name), s, operand(out, name));
        return out.to(result);
    }

    /** {@code a op b} broadcast to {@code shape}, compared in {@code compute} (F32 or I64 after promotion); BOOL. */
    public static Tensor compare(CompareOp op, Tensor a, Tensor b, int[] shape, DType promoted) {
        String name = op.name().toLowerCase();
        boolean direct = a.dtype() == b.dtype() && a.dtype() != DType.BOOL && supported(a.dtype());
        DType compute = direct ? a.dtype() : computeType(promoted, name);
        Tensor[] xy = fit(shape, a.to(compute), b.to(compute));
        Tensor x = xy[0], y = xy[1];
        Tensor out = empty(DType.BOOL, a.device(), shape);
        if (out.numel() > 0) CudaElementwise.compare(op, shape, operand(x, shape, name), operand(y, shape, name), operand(out, name));
        return out;
    }

    // ------------------------------------------------------------------ selection

    /** {@code cond ? a : b} broadcast to {@code shape}, result dtype {@code result}. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b, int[] shape, DType result) {
        kernelType(result, "where");
        Tensor[] cxy = fit(shape, cond, a.to(result), b.to(result));
        Tensor c = cxy[0], x = cxy[1], y = cxy[2];
        Tensor out = empty(result, a.device(), shape);
        if (out.numel() > 0) {
            CudaElementwise.where(shape, operand(c, shape, "where"), operand(x, shape, "where"), operand(y, shape, "where"),
                    operand(out, "where"));
        }
        return out;
    }

    /** A copy of {@code a} with {@code value} where {@code mask} (broadcast to a's shape) is true. */
    public static Tensor maskedFill(Tensor a, Tensor mask, double value) {
        int[] shape = a.shape();
        kernelType(a.dtype(), "maskedFill");
        Tensor out = empty(a.dtype(), a.device(), shape);
        if (out.numel() > 0) {
            Tensor[] xm = fit(shape, a, mask);
            CudaElementwise.maskedFill(shape, operand(xm[0], "maskedFill"), operand(xm[1], shape, "maskedFill"), value, operand(out, "maskedFill"));
        }
        return out;
    }

    // ------------------------------------------------------------------ in place

    /** {@code self += alpha * other} (other broadcast to self's shape), in place; checked by the caller. */
    public static Tensor addInPlace(Tensor self, Tensor other, double alpha) {
        int[] shape = self.shape();
        DType y = self.dtype();
        kernelType(y, "addInPlace");
        DType x = switch (y) {
            case F32 -> DType.F32;
            case BF16 -> other.dtype() == DType.BF16 ? DType.BF16 : DType.F32;
            case I32 -> other.dtype() == DType.I32 ? DType.I32 : DType.I64;
            default -> DType.I64;
        };
        Tensor src = other.to(x);
        if (src.storage() == self.storage()) src = copy(src);      // reading what we write: a snapshot
        if (self.numel() > 0) CudaElementwise.axpy(shape, alpha, operand(src, shape, "addInPlace"), operand(self, "addInPlace"));
        self.storage().bumpVersion();
        return self;
    }

    /** {@code self *= s}, in place; checked by the caller. */
    public static Tensor mulInPlace(Tensor self, double s) {
        kernelType(self.dtype(), "mulInPlace");
        if (self.numel() > 0) CudaElementwise.scale(self.shape(), s, operand(self, "mulInPlace"));
        self.storage().bumpVersion();
        return self;
    }
}
