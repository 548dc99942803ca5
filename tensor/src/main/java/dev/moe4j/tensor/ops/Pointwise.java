package dev.moe4j.tensor.ops;

import dev.moe4j.kernels.cpu.BinaryKernels;
import dev.moe4j.kernels.cpu.BinaryOp;
import dev.moe4j.kernels.cpu.CompareOp;
import dev.moe4j.kernels.cpu.UnaryKernels;
import dev.moe4j.kernels.cpu.UnaryOp;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Devices;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaPointwise;

/**
 * Elementwise operations on tensors, with PyTorch's broadcasting and type promotion; the arithmetic
 * itself runs in {@link BinaryKernels} and {@link UnaryKernels}.
 *
 * <p>How an op runs:
 * <ol>
 *   <li>Shapes broadcast by numpy rules ({@link Shape#broadcast}); operands are expanded to the
 *       output shape as views (stride 0 on stretched dims), so nothing is copied for broadcasting,
 *       and any input strides (transposed, sliced, expanded views) are read in place.</li>
 *   <li>The result type is {@link DType#promote} of the operands, with PyTorch's exceptions: true
 *       division of integers gives F32; a floating unary op (exp, log, gelu, ...) on integers gives
 *       F32; comparisons give BOOL.</li>
 *   <li>The kernels compute in F32 ({@code float[]}), F64 ({@code double[]}) or, for integer and BOOL
 *       types, I64 ({@code long[]}, wrapping like the narrower type after conversion back). BF16/F16
 *       operands are widened to F32, computed, and rounded back to the half type.</li>
 *   <li>Results are new contiguous tensors, except {@link #addInPlace} and {@link #mulInPlace}, which
 *       write through the given view and bump its storage version.</li>
 * </ol>
 * Arguments are checked before any kernel runs; errors are {@link IllegalArgumentException}s naming
 * the op and the shapes or dtypes at fault.
 *
 * <p>Devices: all operands of one call live on one device (else an {@link IllegalArgumentException}
 * naming both). Operands on a CUDA device pass the same checks and type rules, then run in
 * {@link CudaPointwise} (F32, BF16, I32, I64 and BOOL; F64 and the other storage-only types are
 * refused there with the dtype named).
 */
public final class Pointwise {
    private Pointwise() {}

    /** Binary arithmetic ops; per-element meaning as {@link BinaryOp} (MAXIMUM / MINIMUM propagate NaN, DIV is true division). */
    public enum Binary { ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM }

    /** Comparisons ==, !=, &lt;, &lt;=, &gt;, &gt;= (result BOOL); per-element meaning as {@link CompareOp}. */
    public enum Compare { EQ, NE, LT, LE, GT, GE }

    /** Unary ops; per-element meaning as {@link UnaryOp} (GELU exact via erfc, GELU_TANH the tanh approximation). */
    public enum Unary { NEG, ABS, EXP, LOG, SQRT, RSQRT, RELU, GELU, GELU_TANH, SILU, SIGMOID, TANH }

    // ------------------------------------------------------------------ binary

    /**
     * {@code op(a, b)} elementwise with broadcasting: shapes [..., m, n] and [..., 1, n] etc. give the
     * broadcast shape. Result dtype: {@link DType#promote}(a, b), except that {@link Binary#DIV} of two
     * integer/BOOL tensors is F32. Integer {@link Binary#POW} needs non-negative exponents.
     * {@link Binary#MAXIMUM} / {@link Binary#MINIMUM} propagate NaN.
     *
     * @throws IllegalArgumentException when the shapes do not broadcast, for SUB of two BOOL tensors,
     *         or for a negative integer exponent
     */
    public static Tensor binary(Binary op, Tensor a, Tensor b) {
        Devices.requireSame(name(op), a, b);
        String name = name(op);
        int[] shape = broadcast(name, a.shape(), b.shape());
        DType result = binaryResultType(op, a.dtype(), b.dtype());
        if (op == Binary.SUB && result == DType.BOOL) {
            throw new IllegalArgumentException("sub: subtracting BOOL tensors (shapes " + Shape.str(a.shape()) + " and "
                    + Shape.str(b.shape()) + ") is not supported; convert to an integer type first");
        }
        DType compute = computeType(result);
        if (op == Binary.POW && compute == DType.I64) requireNonNegativeExponents(b);
        if (onDevice(a, b)) return CudaPointwise.binary(kernelOp(op), a, b, shape, result);
        Tensor x = a.to(compute).expand(shape);
        Tensor y = b.to(compute).expand(shape);
        Tensor out = Tensor.zeros(compute, shape);
        BinaryKernels.apply(kernelOp(op), array(x), x.offset(), x.strides(), array(y), y.offset(), y.strides(), array(out), 0, shape);
        return out.to(result);
    }

    /**
     * {@code op(a, s)} with a scalar. A floating tensor keeps its dtype (s is rounded to it). An
     * integer or BOOL tensor with an integral s keeps its integer type (BOOL becomes I64), as with a
     * Python int in PyTorch; a non-integral s, or {@link Binary#DIV}, gives F32.
     *
     * @throws IllegalArgumentException for an integer tensor raised to a negative integral power
     */
    public static Tensor binaryScalar(Binary op, Tensor a, double s) {
        DType result = scalarResultType(op, a.dtype(), s);
        DType compute = computeType(result);
        if (op == Binary.POW && compute == DType.I64 && s < 0) {
            throw new IllegalArgumentException("pow: integers to negative integer powers are not allowed (tensor " + a.dtype()
                    + " of shape " + Shape.str(a.shape()) + ", exponent " + s + ")");
        }
        if (onDevice(a)) return CudaPointwise.binaryScalar(kernelOp(op), a, s, result);
        int[] shape = a.shape();
        Tensor x = a.to(compute);
        Tensor out = Tensor.zeros(compute, shape);
        BinaryKernels.apply(kernelOp(op), array(x), x.offset(), x.strides(), scalarArray(compute, s), 0, new int[shape.length],
                array(out), 0, shape);
        return out.to(result);
    }

    /**
     * {@code a op b} elementwise with broadcasting, computed in the promoted type; the result is BOOL.
     * NaN compares unequal to everything (only {@link Compare#NE} is true).
     *
     * @throws IllegalArgumentException when the shapes do not broadcast
     */
    public static Tensor compare(Compare op, Tensor a, Tensor b) {
        Devices.requireSame(op.name().toLowerCase(), a, b);
        int[] shape = broadcast(op.name().toLowerCase(), a.shape(), b.shape());
        DType compute = computeType(DType.promote(a.dtype(), b.dtype()));
        if (onDevice(a, b)) return CudaPointwise.compare(CompareOp.valueOf(op.name()), a, b, shape, DType.promote(a.dtype(), b.dtype()));
        Tensor x = a.to(compute).expand(shape);
        Tensor y = b.to(compute).expand(shape);
        Tensor out = Tensor.zeros(DType.BOOL, shape);
        BinaryKernels.compare(CompareOp.valueOf(op.name()), array(x), x.offset(), x.strides(), array(y), y.offset(), y.strides(),
                out.cpuStorage().bytes(), 0, shape);
        return out;
    }

    // ------------------------------------------------------------------ unary

    /**
     * {@code op(a)} elementwise, a new tensor of a's shape. NEG, ABS and RELU keep integer types; the
     * other ops promote integer and BOOL inputs to F32 (as PyTorch); half types are computed in F32.
     * GELU is the exact (erf) form, GELU_TANH the tanh approximation.
     *
     * @throws IllegalArgumentException for NEG, ABS or RELU of a BOOL tensor
     */
    public static Tensor unary(Unary op, Tensor a) {
        UnaryOp k = UnaryOp.valueOf(op.name());
        DType in = a.dtype();
        DType result;
        if (in.isFloatingPoint()) {
            result = in;
        } else if (k.isIntegral()) {
            if (in == DType.BOOL) {
                throw new IllegalArgumentException(name(op) + " is not defined on a BOOL tensor (shape " + Shape.str(a.shape()) + ")");
            }
            result = in;
        } else {
            result = DType.F32;
        }
        if (onDevice(a)) return CudaPointwise.unary(k, a, result);
        DType compute = computeType(result);
        int[] shape = a.shape();
        Tensor x = a.to(compute);
        Tensor out = Tensor.zeros(compute, shape);
        UnaryKernels.apply(k, array(x), x.offset(), x.strides(), array(out), 0, shape);
        return out.to(result);
    }

    // ------------------------------------------------------------------ selection

    /**
     * A copy of {@code a} with the elements where {@code mask} is true replaced by {@code value}
     * (rounded to a's dtype). {@code mask} is BOOL and broadcasts to a's shape.
     *
     * @throws IllegalArgumentException when mask is not BOOL or does not broadcast to a's shape
     */
    public static Tensor maskedFill(Tensor a, Tensor mask, double value) {
        Devices.requireSame("maskedFill", a, mask);
        if (mask.dtype() != DType.BOOL) {
            throw new IllegalArgumentException("maskedFill: mask must be BOOL, got " + mask.dtype() + " of shape " + Shape.str(mask.shape()));
        }
        int[] shape = a.shape();
        requireBroadcastsTo("maskedFill", "mask", mask.shape(), shape);
        if (onDevice(a, mask)) return CudaPointwise.maskedFill(a, mask, fillValue(a.dtype(), value));
        DType compute = computeType(a.dtype());
        Tensor x = a.to(compute);
        Tensor m = mask.expand(shape);
        Tensor out = Tensor.zeros(compute, shape);
        BinaryKernels.select(m.cpuStorage().bytes(), m.offset(), m.strides(), scalarArray(compute, fillValue(a.dtype(), value)), 0,
                new int[shape.length], array(x), x.offset(), x.strides(), array(out), 0, shape);
        return out.to(a.dtype());
    }

    /**
     * {@code cond ? a : b} elementwise; all three broadcast together. cond is BOOL; the result has
     * dtype {@link DType#promote}(a, b).
     *
     * @throws IllegalArgumentException when cond is not BOOL or the shapes do not broadcast
     */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Devices.requireSame("where", cond, a, b);
        if (cond.dtype() != DType.BOOL) {
            throw new IllegalArgumentException("where: cond must be BOOL, got " + cond.dtype() + " of shape " + Shape.str(cond.shape()));
        }
        int[] shape;
        try {
            shape = Shape.broadcast(Shape.broadcast(cond.shape(), a.shape()), b.shape());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("where: cond " + Shape.str(cond.shape()) + ", a " + Shape.str(a.shape()) + " and b "
                    + Shape.str(b.shape()) + " do not broadcast together", e);
        }
        DType result = DType.promote(a.dtype(), b.dtype());
        if (onDevice(cond, a, b)) return CudaPointwise.where(cond, a, b, shape, result);
        DType compute = computeType(result);
        Tensor c = cond.expand(shape);
        Tensor x = a.to(compute).expand(shape);
        Tensor y = b.to(compute).expand(shape);
        Tensor out = Tensor.zeros(compute, shape);
        BinaryKernels.select(c.cpuStorage().bytes(), c.offset(), c.strides(), array(x), x.offset(), x.strides(),
                array(y), y.offset(), y.strides(), array(out), 0, shape);
        return out.to(result);
    }

    // ------------------------------------------------------------------ in place

    /**
     * {@code self += alpha * other}, in place; other broadcasts to self's shape, and self may be any
     * non-overlapping view (transposed, sliced). Bumps self's storage version. Float self: computed in
     * its type (fma per element). Integer self: other must be integer and alpha integral.
     *
     * @return self
     * @throws IllegalArgumentException when other does not broadcast to self's shape, self has
     *         overlapping elements (an expanded view), or the types cannot be added in place
     */
    public static Tensor addInPlace(Tensor self, Tensor other, double alpha) {
        Devices.requireSame("addInPlace", self, other);
        int[] shape = self.shape();
        requireBroadcastsTo("addInPlace", "other", other.shape(), shape);
        requireWritable("addInPlace", self);
        if (!self.dtype().isFloatingPoint() && (other.dtype().isFloatingPoint() || !isIntegral(alpha))) {
            throw new IllegalArgumentException("addInPlace: result of adding " + other.dtype() + " (alpha " + alpha + ") to "
                    + self.dtype() + " of shape " + Shape.str(shape) + " cannot be stored in " + self.dtype());
        }
        if (self.dtype() == DType.BOOL) {
            throw new IllegalArgumentException("addInPlace: in-place arithmetic on a BOOL tensor (shape " + Shape.str(shape) + ") is not supported");
        }
        if (onDevice(self, other)) return CudaPointwise.addInPlace(self, other, alpha);
        DType compute = computeType(self.dtype());
        Tensor x = other.to(compute);
        if (x.storage() == self.storage()) x = x.copy();         // reading what we write: read a snapshot
        x = x.expand(shape);
        Tensor target = compute == self.dtype() ? self : self.to(compute);
        BinaryKernels.axpy(alpha, array(x), x.offset(), x.strides(), array(target), target.offset(), target.strides(), shape);
        if (target != self) self.copyFrom(target);
        else self.storage().bumpVersion();
        return self;
    }

    /**
     * {@code self *= s}, in place on any non-overlapping view; bumps the storage version.
     *
     * @return self
     * @throws IllegalArgumentException for an overlapping view, a BOOL tensor, or a non-integral s
     *         with an integer tensor
     */
    public static Tensor mulInPlace(Tensor self, double s) {
        int[] shape = self.shape();
        requireWritable("mulInPlace", self);
        if (self.dtype() == DType.BOOL || (!self.dtype().isFloatingPoint() && !isIntegral(s))) {
            throw new IllegalArgumentException("mulInPlace: " + self.dtype() + " tensor of shape " + Shape.str(shape)
                    + " cannot hold the product with " + s);
        }
        if (onDevice(self)) return CudaPointwise.mulInPlace(self, s);
        DType compute = computeType(self.dtype());
        Tensor target = compute == self.dtype() ? self : self.to(compute);
        BinaryKernels.scale(s, array(target), target.offset(), target.strides(), shape);
        if (target != self) self.copyFrom(target);
        else self.storage().bumpVersion();
        return self;
    }

    // ------------------------------------------------------------------ devices

    /** True when the operands (already checked to share one device) live on a CUDA device. */
    private static boolean onDevice(Tensor... operands) {
        return !operands[0].device().isCpu();
    }

    // ------------------------------------------------------------------ type rules

    /** The dtype a kernel computes a result of type {@code t} in: F64, F32 (also for halves) or I64 (integers, BOOL). */
    static DType computeType(DType t) {
        if (t == DType.F64) return DType.F64;
        if (t.isFloatingPoint()) return DType.F32;
        return DType.I64;
    }

    private static DType binaryResultType(Binary op, DType a, DType b) {
        if (op == Binary.DIV && !a.isFloatingPoint() && !b.isFloatingPoint()) return DType.F32;
        return DType.promote(a, b);
    }

    private static DType scalarResultType(Binary op, DType a, double s) {
        if (a.isFloatingPoint()) return a;
        if (op == Binary.DIV || !isIntegral(s)) return DType.F32;
        return a == DType.BOOL ? DType.I64 : a;
    }

    private static boolean isIntegral(double s) {
        return s == Math.rint(s) && !Double.isInfinite(s) && Math.abs(s) <= 0x1p63;
    }

    private static double fillValue(DType t, double v) {
        if (t == DType.BOOL) return v != 0 ? 1 : 0;
        return v;
    }

    private static void requireNonNegativeExponents(Tensor b) {
        long[] e = b.toLongArray();
        for (long v : e) {
            if (v < 0) {
                throw new IllegalArgumentException("pow: integers to negative integer powers are not allowed (exponent tensor "
                        + b.dtype() + " of shape " + Shape.str(b.shape()) + " holds " + v + ")");
            }
        }
    }

    // ------------------------------------------------------------------ shape checks

    private static int[] broadcast(String op, int[] a, int[] b) {
        try {
            return Shape.broadcast(a, b);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(op + ": " + e.getMessage(), e);
        }
    }

    private static void requireBroadcastsTo(String op, String what, int[] from, int[] to) {
        boolean ok = from.length <= to.length;
        for (int i = 0; ok && i < from.length; i++) {
            int f = from[from.length - 1 - i], t = to[to.length - 1 - i];
            ok = f == t || f == 1;
        }
        if (!ok) {
            throw new IllegalArgumentException(op + ": " + what + " of shape " + Shape.str(from) + " does not broadcast to shape " + Shape.str(to));
        }
    }

    /** An in-place target must not hold one element at two indices (a stride-0 dim of size &gt; 1). */
    private static void requireWritable(String op, Tensor t) {
        int[] sh = t.shape(), st = t.strides();
        for (int i = 0; i < sh.length; i++) {
            if (st[i] == 0 && sh[i] > 1) {
                throw new IllegalArgumentException(op + ": the target view (shape " + Shape.str(sh) + ", strides " + Shape.str(st)
                        + ") refers to one element from several indices (an expanded dim); write into a copy");
            }
        }
    }

    // ------------------------------------------------------------------ kernel plumbing

    private static BinaryOp kernelOp(Binary op) { return BinaryOp.valueOf(op.name()); }

    private static String name(Enum<?> op) { return op.name().toLowerCase(); }

    private static Object array(Tensor t) { return t.cpuStorage().array(); }

    /** A one-element array of the kernel type holding s (read with stride 0). */
    private static Object scalarArray(DType compute, double s) {
        return switch (compute) {
            case F64 -> new double[] {s};
            case F32 -> new float[] {(float) s};
            default -> new long[] {(long) s};
        };
    }
}
