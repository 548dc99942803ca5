package dev.moe4j.kernels.cuda;

import dev.moe4j.kernels.cpu.BinaryOp;
import dev.moe4j.kernels.cpu.CompareOp;
import dev.moe4j.kernels.cpu.UnaryOp;

import java.util.Arrays;

/**
 * Launchers of {@code cuda-src/elementwise.cu}: the device versions of the CPU's
 * {@link dev.moe4j.kernels.cpu.UnaryKernels} and {@link dev.moe4j.kernels.cpu.BinaryKernels}
 * (unary maps, binary arithmetic, comparisons, selection, {@code y += alpha x}, {@code y *= s}), plus
 * fills, dtype conversions and strided copies.
 *
 * <h2>Operands</h2>
 * Every call walks the elements of an output of shape {@code [d0, ..., dr-1]} (row-major). Each operand
 * is an {@link Operand}: a device buffer starting at the view's element (0, ..., 0), an element
 * {@link Type}, and strides in elements, one per dim of the shape. A stride of 0 broadcasts an input
 * along that dim; transposed, sliced and expanded views are read in place. Strides must be &gt;= 0, and
 * an output must not reach one element from two indices (a stride-0 dim of size &gt; 1), except for
 * {@link #fill}, where every index writes the same value.
 *
 * <h2>Semantics</h2>
 * Per element exactly the CPU's ({@link UnaryOp}, {@link BinaryOp}, {@link CompareOp} and the
 * conversions of the tensor module's {@code CpuStorage}): F32 and BF16 compute in float (BF16 widened
 * exactly, rounded to nearest even once when stored), I32, I64 and BOOL in 64-bit wrapping integers
 * (I32 results keep the low 32 bits, BOOL results are {@code value != 0}); transcendentals and POW
 * are evaluated in double and rounded once, as {@link UnaryOp#apply(float)}. Operands of one arithmetic
 * call share one type: the tensor layer converts mixed operands first, as the CPU does.
 *
 * <h2>Launch</h2>
 * The host merges dims (drops size-1 dims, fuses dims contiguous in every operand; at most
 * {@link #MAX_RANK} remain) and passes the layout by value. When every operand is dense over the
 * elements and 16-byte aligned the kernels move 16-byte vectors; otherwise each thread computes its
 * elements' offsets from the strides. Grid: {@link LaunchGeometry#elementwise}, grid-stride.
 * Arguments are checked before anything is enqueued ({@link IllegalArgumentException} naming the
 * operand, its shape and strides); an empty shape launches nothing.
 */
public final class CudaElementwise {
    private CudaElementwise() {}

    private static final String MODULE = "elementwise";

    /** Most dims a layout keeps after merging ({@code EW_MAX_RANK}). */
    public static final int MAX_RANK = 8;
    /** Operands of a layout: the output and up to three inputs ({@code EW_OPERANDS}). */
    static final int OPERANDS = 4;
    /** The layout struct as ints: rank, vec, shape[8], stride[4][8]. */
    static final int LAYOUT_INTS = 2 + MAX_RANK + OPERANDS * MAX_RANK;

    /** Element types of the device kernels. */
    public enum Type {
        /** IEEE float. */
        F32(4, "f32", true),
        /** bfloat16, computed in float. */
        BF16(2, "bf16", true),
        /** 32-bit two's complement, computed in 64 bits. */
        I32(4, "i32", false),
        /** 64-bit two's complement. */
        I64(8, "i64", false),
        /** One byte holding 0 or 1; computed as a 64-bit integer, stored as value != 0. */
        BOOL(1, "b8", false);

        private final int bytes;
        private final String suffix;
        private final boolean floating;

        Type(int bytes, String suffix, boolean floating) {
            this.bytes = bytes;
            this.suffix = suffix;
            this.floating = floating;
        }

        /** Bytes per element. */
        public int bytes() { return bytes; }

        /** True for F32 and BF16 (computed in float). */
        public boolean isFloat() { return floating; }

        /** The kernel-name suffix. */
        String suffix() { return suffix; }
    }

    /**
     * A strided view of device memory: element {@code (i0, ..., ir-1)} lives at element
     * {@code sum_d i_d * strides[d]} of {@code buffer}.
     *
     * @param buffer  device memory from the view's first element on
     * @param type    element type
     * @param strides one stride per dim, in elements, &gt;= 0
     */
    public record Operand(DeviceBuffer buffer, Type type, int[] strides) {
        /** A dense row-major operand of {@code shape}. */
        public static Operand dense(DeviceBuffer buffer, Type type, int... shape) {
            int[] st = new int[shape.length];
            int s = 1;
            for (int d = shape.length - 1; d >= 0; d--) {
                st[d] = s;
                s *= Math.max(shape[d], 1);
            }
            return new Operand(buffer, type, st);
        }

        @Override
        public String toString() { return type + " strides " + Arrays.toString(strides); }
    }

    // ------------------------------------------------------------------ operations

    /**
     * {@code out = op(x)}. Floating ops on F32 / BF16; NEG, ABS and RELU also on I32 / I64; x and out
     * share a type.
     */
    public static void unary(UnaryOp op, int[] shape, Operand x, Operand out) {
        Prepared p = checkUnary(op, shape, x, out);
        if (p == null) return;
        p.launch("ew_unary_" + out.type.suffix, op.ordinal(), x, out);
    }

    static Prepared checkUnary(UnaryOp op, int[] shape, Operand x, Operand out) {
        String name = "unary " + op;
        requireOperands(name, x, out);
        sameType(name, out.type, x, out);
        if (out.type == Type.BOOL || (!out.type.isFloat() && !op.isIntegral())) {
            throw new IllegalArgumentException(name + " is not defined on " + out.type + " (shape " + Arrays.toString(shape)
                    + "); " + (op.isIntegral() ? "" : "convert integers to F32 first"));
        }
        return prepare(name, shape, true, out, x);
    }

    /** {@code out = op(a, b)}, a, b and out of one type (F32, BF16, I32 or I64; DIV on floats only). */
    public static void binary(BinaryOp op, int[] shape, Operand a, Operand b, Operand out) {
        Prepared p = checkBinary(op, shape, a, b, out);
        if (p == null) return;
        p.launch("ew_binary_" + out.type.suffix, op.ordinal(), a, b, scalar(out.type, 0), out);
    }

    static Prepared checkBinary(BinaryOp op, int[] shape, Operand a, Operand b, Operand out) {
        String name = "binary " + op;
        requireOperands(name, a, b, out);
        sameType(name, out.type, a, b, out);
        arithmeticType(name, op, out.type, shape);
        return prepare(name, shape, true, out, a, b);
    }

    /**
     * {@code out = op(a, s)}; {@code s} is rounded to the compute type first ({@code (float) s}, or
     * {@code (long) s} for integer types), as the CPU's scalar path.
     */
    public static void binaryScalar(BinaryOp op, int[] shape, Operand a, double s, Operand out) {
        String name = "binary " + op + " with a scalar";
        requireOperands(name, a, out);
        sameType(name, out.type, a, out);
        arithmeticType(name, op, out.type, shape);
        Prepared p = prepare(name, shape, true, out, a, null);
        if (p == null) return;
        p.launch("ew_binary_" + out.type.suffix, op.ordinal(), a, null, scalar(out.type, s), out);
    }

    /** {@code out (BOOL) = a op b}; a and b of one type (F32, BF16, I32 or I64). */
    public static void compare(CompareOp op, int[] shape, Operand a, Operand b, Operand out) {
        Prepared p = checkCompare(op, shape, a, b, out);
        if (p == null) return;
        p.launch("ew_compare_" + a.type.suffix, op.ordinal(), a, b, out);
    }

    static Prepared checkCompare(CompareOp op, int[] shape, Operand a, Operand b, Operand out) {
        String name = "compare " + op;
        requireOperands(name, a, b, out);
        sameType(name, a.type, a, b);
        if (a.type == Type.BOOL) throw new IllegalArgumentException(name + ": BOOL operands (shape " + Arrays.toString(shape) + ") are compared as I64; convert them first");
        if (out.type != Type.BOOL) throw new IllegalArgumentException(name + ": the output must be BOOL, got " + out.type);
        return prepare(name, shape, true, out, a, b);
    }

    /** {@code out = cond ? a : b}; cond BOOL, a, b and out of one type (any {@link Type}). */
    public static void where(int[] shape, Operand cond, Operand a, Operand b, Operand out) {
        String name = "where";
        requireOperands(name, cond, a, b, out);
        if (cond.type != Type.BOOL) throw new IllegalArgumentException(name + ": cond must be BOOL, got " + cond.type);
        sameType(name, out.type, a, b, out);
        Prepared p = prepare(name, shape, true, out, cond, a, b);
        if (p == null) return;
        p.launch("ew_where_" + out.type.suffix, cond, a, scalar(out.type, 0), b, out);
    }

    /** {@code out = mask ? value : x} ({@code value} rounded as in {@link #binaryScalar}); mask BOOL, x and out of one type. */
    public static void maskedFill(int[] shape, Operand x, Operand mask, double value, Operand out) {
        String name = "maskedFill";
        requireOperands(name, x, mask, out);
        if (mask.type != Type.BOOL) throw new IllegalArgumentException(name + ": mask must be BOOL, got " + mask.type);
        sameType(name, out.type, x, out);
        Prepared p = prepare(name, shape, true, out, mask, null, x);
        if (p == null) return;
        p.launch("ew_where_" + out.type.suffix, mask, null, scalar(out.type, value), x, out);
    }

    /** Every element of {@code out} becomes {@code value}, converted as the CPU stores a double. */
    public static void fill(int[] shape, Operand out, double value) {
        String name = "fill";
        requireOperands(name, out);
        Prepared p = prepare(name, shape, false, out);
        if (p == null) return;
        p.launch("ew_fill_" + out.type.suffix, scalar(out.type, value), out);
    }

    /**
     * {@code y += alpha * x} in place, per element {@code fma(alpha, x, y)} in float, wrapping in
     * integers. Pairs (y, x): (F32, F32), (BF16, BF16), (BF16, F32), (I32, I32), (I32, I64), (I64, I64).
     * x must not overlap y (the tensor layer passes a snapshot).
     */
    public static void axpy(int[] shape, double alpha, Operand x, Operand y) {
        Prepared p = checkAxpy(shape, x, y);
        if (p == null) return;
        p.launch("ew_axpy_" + y.type.suffix + "_" + x.type.suffix, scalar(y.type, alpha), x, y);
    }

    static Prepared checkAxpy(int[] shape, Operand x, Operand y) {
        String name = "axpy";
        requireOperands(name, x, y);
        boolean ok = switch (y.type) {
            case F32 -> x.type == Type.F32;
            case BF16 -> x.type == Type.BF16 || x.type == Type.F32;
            case I32 -> x.type == Type.I32 || x.type == Type.I64;
            case I64 -> x.type == Type.I64;
            case BOOL -> false;
        };
        if (!ok) {
            throw new IllegalArgumentException(name + ": cannot add " + x.type + " into " + y.type + " (shape " + Arrays.toString(shape)
                    + "); supported (y, x): (F32, F32), (BF16, BF16), (BF16, F32), (I32, I32), (I32, I64), (I64, I64)");
        }
        return prepare(name, shape, true, y, y, x);
    }

    /** {@code y *= s} in place ({@code s} rounded to float, or to long for integer types); F32, BF16, I32, I64. */
    public static void scale(int[] shape, double s, Operand y) {
        String name = "scale";
        requireOperands(name, y);
        if (y.type == Type.BOOL) throw new IllegalArgumentException(name + ": in-place arithmetic on BOOL (shape " + Arrays.toString(shape) + ") is not supported");
        Prepared p = prepare(name, shape, true, y, y);
        if (p == null) return;
        p.launch("ew_scale_" + y.type.suffix, scalar(y.type, s), y);
    }

    /**
     * {@code dst = src} converted to dst's type ({@code Tensor.to(DType)} semantics: float to integer
     * truncates toward zero, saturating, NaN to 0; integer to float through double; BF16 rounds to
     * nearest even; BOOL is value != 0). src may broadcast (stride 0).
     */
    public static void cast(int[] shape, Operand src, Operand dst) {
        String name = "cast " + (src == null ? "?" : src.type) + " -> " + (dst == null ? "?" : dst.type);
        requireOperands(name, src, dst);
        Prepared p = prepare(name, shape, true, dst, src);
        if (p == null) return;
        p.launch("ew_cast_" + src.type.suffix + "_" + dst.type.suffix, src, dst);
    }

    /**
     * A bit-exact strided copy of elements of {@code elementBytes} bytes (1, 2, 4 or 8; any dtype of
     * that size), from {@code src} (may broadcast) into {@code dst}.
     */
    public static void copy(int[] shape, int elementBytes, DeviceBuffer src, int[] srcStrides, DeviceBuffer dst, int[] dstStrides) {
        Type carrier = switch (elementBytes) {
            case 1 -> Type.BOOL;
            case 2 -> Type.BF16;
            case 4 -> Type.I32;
            case 8 -> Type.I64;
            default -> throw new IllegalArgumentException("copy: elements of " + elementBytes + " bytes; 1, 2, 4 or 8 are supported");
        };
        Operand s = new Operand(src, carrier, srcStrides), d = new Operand(dst, carrier, dstStrides);
        Prepared p = prepare("copy", shape, true, d, s);
        if (p == null) return;
        p.launch("ew_copy_x" + 8 * elementBytes, s, d);
    }

    /**
     * The number of dims that remain of {@code shape} when size-1 dims are dropped and dims contiguous
     * in every stride set are fused (at least 1); the kernels take up to {@link #MAX_RANK}.
     */
    public static int mergedRank(int[] shape, int[]... strides) {
        return Math.max(1, merge(shape, strides).length);
    }

    // ------------------------------------------------------------------ checks and layout

    /** A checked launch: element count, layout ints and the device. */
    record Prepared(int n, int[] layout, int perThread, CudaDevice device) {
        void launch(String kernel, Object... args) {
            Object[] all = new Object[args.length + 2];
            all[0] = layout;
            all[1] = n;
            for (int i = 0; i < args.length; i++) {
                all[i + 2] = switch (args[i]) {
                    case Operand o -> o.buffer;
                    case null -> null;
                    default -> args[i];
                };
            }
            boolean vec = layout[1] == 1;
            device.launch(MODULE, kernel, LaunchGeometry.elementwise(vec ? (n + perThread - 1L) / perThread : n), 0, all);
        }
    }

    private static void requireOperands(String name, Operand... ops) {
        for (Operand o : ops) {
            if (o == null || o.buffer == null || o.type == null || o.strides == null) {
                throw new IllegalArgumentException(name + ": an operand, its buffer, type or strides is null");
            }
        }
    }

    private static void sameType(String name, Type want, Operand... ops) {
        for (Operand o : ops) {
            if (o.type != want) {
                throw new IllegalArgumentException(name + ": operands must share one type, got " + o.type + " beside " + want);
            }
        }
    }

    private static void arithmeticType(String name, BinaryOp op, Type t, int[] shape) {
        if (t == Type.BOOL) throw new IllegalArgumentException(name + ": BOOL operands (shape " + Arrays.toString(shape) + ") compute as I64; convert them first");
        if (op == BinaryOp.DIV && !t.isFloat()) {
            throw new IllegalArgumentException(name + ": DIV is true division; " + t + " operands (shape " + Arrays.toString(shape) + ") must be converted to F32 first");
        }
    }

    /** The scalar kernel argument: a Float for float types, a Long ((long) v; BOOL: v != 0) otherwise. */
    static Object scalar(Type t, double v) {
        if (t.isFloat()) return (float) v;
        if (t == Type.BOOL) return v != 0 ? 1L : 0L;
        return (long) v;
    }

    /**
     * Checks sizes and strides against the buffers, merges dims and builds the layout; null when there
     * is nothing to do. Inputs may contain null (a scalar operand), which takes stride 0.
     */
    static Prepared prepare(String name, int[] shape, boolean exclusiveOutput, Operand out, Operand... inputs) {
        if (shape == null) throw new IllegalArgumentException(name + ": shape is null");
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException(name + ": negative dim in shape " + Arrays.toString(shape));
            n *= s;
        }
        Checks.toInt(name + ": elements of shape " + Arrays.toString(shape), n);
        Operand[] ops = new Operand[OPERANDS];
        ops[0] = out;
        if (inputs.length > OPERANDS - 1) throw new IllegalArgumentException(name + ": at most " + (OPERANDS - 1) + " inputs");
        System.arraycopy(inputs, 0, ops, 1, inputs.length);
        int[][] strides = new int[OPERANDS][];
        for (int k = 0; k < OPERANDS; k++) {
            Operand o = ops[k];
            if (o == null) continue;
            String what = k == 0 ? "output" : "input " + k;
            if (o.strides.length != shape.length) {
                throw new IllegalArgumentException(name + ": " + what + " has strides " + Arrays.toString(o.strides) + " for shape "
                        + Arrays.toString(shape) + " (rank differs)");
            }
            long last = 0;
            for (int d = 0; d < shape.length; d++) {
                if (o.strides[d] < 0) {
                    throw new IllegalArgumentException(name + ": " + what + " has a negative stride in " + Arrays.toString(o.strides));
                }
                if (k == 0 && exclusiveOutput && o.strides[d] == 0 && shape[d] > 1) {
                    throw new IllegalArgumentException(name + ": the output (shape " + Arrays.toString(shape) + ", strides "
                            + Arrays.toString(o.strides) + ") reaches one element from several indices");
                }
                if (shape[d] > 0) last += (long) (shape[d] - 1) * o.strides[d];
            }
            if (n > 0) {
                long need = (last + 1) * o.type.bytes;
                if (o.buffer.bytes() < need) {
                    throw new IllegalArgumentException(name + ": " + what + " " + o.type + " of shape " + Arrays.toString(shape) + " strides "
                            + Arrays.toString(o.strides) + " needs " + need + " bytes, the device buffer has " + o.buffer.bytes());
                }
            }
            strides[k] = o.strides;
        }
        if (n == 0) return null;
        int[][] merged = merge(shape, strides);
        int rank = Math.max(1, merged.length);
        if (rank > MAX_RANK) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " with strides " + describe(ops)
                    + " keeps " + rank + " dims after merging; the kernels take at most " + MAX_RANK);
        }
        int[] layout = new int[LAYOUT_INTS];
        layout[0] = rank;
        boolean vec = rank == 1;
        int widest = 1;
        for (int d = 0; d < rank; d++) layout[2 + d] = merged.length == 0 ? 1 : merged[d][0];
        for (int k = 0; k < OPERANDS; k++) {
            if (ops[k] == null) continue;
            widest = Math.max(widest, ops[k].type.bytes);
            for (int d = 0; d < rank; d++) {
                int st = merged.length == 0 ? 1 : merged[d][1 + k];
                layout[2 + MAX_RANK + k * MAX_RANK + d] = st;
            }
            boolean dense = merged.length == 0 || merged[0][1 + k] == 1;
            vec &= dense && ops[k].buffer.isAligned(16);
        }
        layout[1] = vec ? 1 : 0;
        CudaDevice device = null;
        for (Operand o : ops) {
            if (o == null) continue;
            if (device == null) device = o.buffer.device();
            else if (o.buffer.device() != device) {
                throw new IllegalArgumentException(name + ": operands on " + device + " and " + o.buffer.device() + "; all must be on one device");
            }
        }
        return new Prepared((int) n, layout, 16 / widest, device);
    }

    /**
     * Merged dims, outermost first: each row is {size, stride of operand 0, ..., stride of operand 3}
     * (0 for an absent operand). Size-1 dims are dropped; dim d fuses into the dim inside it when, in
     * every operand, stride[d] = stride[inner] * size[inner].
     */
    static int[][] merge(int[] shape, int[]... strides) {
        int ops = strides.length;
        int[][] rows = new int[shape.length][];
        int m = 0;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] == 1) continue;
            boolean fuse = m > 0;
            for (int k = 0; fuse && k < ops; k++) {
                int st = strides[k] == null ? 0 : strides[k][d];
                fuse = (long) st == (long) rows[m - 1][1 + k] * rows[m - 1][0];
            }
            if (fuse) {
                rows[m - 1][0] *= shape[d];
            } else {
                int[] row = new int[1 + Math.max(ops, OPERANDS)];
                row[0] = shape[d];
                for (int k = 0; k < ops; k++) row[1 + k] = strides[k] == null ? 0 : strides[k][d];
                rows[m++] = row;
            }
        }
        int[][] out = new int[m][];
        for (int i = 0; i < m; i++) out[i] = rows[m - 1 - i];
        return out;
    }

    private static String describe(Operand[] ops) {
        StringBuilder sb = new StringBuilder();
        for (Operand o : ops) {
            if (o == null) continue;
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(Arrays.toString(o.strides));
        }
        return sb.toString();
    }
}
