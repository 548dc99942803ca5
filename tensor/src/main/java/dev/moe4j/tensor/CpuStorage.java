package dev.moe4j.tensor;

import dev.moe4j.kernels.cpu.HalfFloat;

/**
 * Heap storage on the CPU: one Java primitive array per dtype.
 *
 * <table>
 *   <caption>array per dtype</caption>
 *   <tr><td>F32</td><td>{@code float[]}</td></tr>
 *   <tr><td>F64</td><td>{@code double[]}</td></tr>
 *   <tr><td>BF16, F16, I16</td><td>{@code short[]} (bit patterns for the half types)</td></tr>
 *   <tr><td>I32</td><td>{@code int[]}</td></tr>
 *   <tr><td>I64</td><td>{@code long[]}</td></tr>
 *   <tr><td>I8, U8, BOOL</td><td>{@code byte[]} (BOOL: 0 or 1)</td></tr>
 * </table>
 */
public final class CpuStorage implements Storage {
    /** Largest element count a heap storage holds (a Java array's limit). */
    public static final int MAX_SIZE = Integer.MAX_VALUE - 16;

    private final DType dtype;
    private final Object array;
    private final int size;
    private int version;

    private CpuStorage(DType dtype, Object array, int size) {
        this.dtype = dtype;
        this.array = array;
        this.size = size;
    }

    /** A zero-filled storage of {@code size} elements. */
    public static CpuStorage allocate(DType dtype, long size) {
        if (size < 0 || size > MAX_SIZE) {
            throw new IllegalArgumentException("cannot allocate " + size + " elements of " + dtype + " (limit " + MAX_SIZE + ")");
        }
        int n = (int) size;
        Object a = switch (dtype) {
            case F32 -> new float[n];
            case F64 -> new double[n];
            case BF16, F16, I16 -> new short[n];
            case I32 -> new int[n];
            case I64 -> new long[n];
            case I8, U8, BOOL -> new byte[n];
        };
        return new CpuStorage(dtype, a, n);
    }

    /** Wraps (does not copy) a float array as F32 storage. */
    public static CpuStorage of(float[] a) { return new CpuStorage(DType.F32, a, a.length); }

    /** Wraps (does not copy) a double array as F64 storage. */
    public static CpuStorage of(double[] a) { return new CpuStorage(DType.F64, a, a.length); }

    /** Wraps (does not copy) an int array as I32 storage. */
    public static CpuStorage of(int[] a) { return new CpuStorage(DType.I32, a, a.length); }

    /** Wraps (does not copy) a long array as I64 storage. */
    public static CpuStorage of(long[] a) { return new CpuStorage(DType.I64, a, a.length); }

    /** Wraps (does not copy) a short array as BF16, F16 or I16 storage. */
    public static CpuStorage ofShorts(DType dtype, short[] a) {
        if (dtype != DType.BF16 && dtype != DType.F16 && dtype != DType.I16) {
            throw new IllegalArgumentException("short[] storage is for BF16, F16 or I16, not " + dtype);
        }
        return new CpuStorage(dtype, a, a.length);
    }

    /** Wraps (does not copy) a byte array as I8, U8 or BOOL storage. */
    public static CpuStorage ofBytes(DType dtype, byte[] a) {
        if (dtype != DType.I8 && dtype != DType.U8 && dtype != DType.BOOL) {
            throw new IllegalArgumentException("byte[] storage is for I8, U8 or BOOL, not " + dtype);
        }
        return new CpuStorage(dtype, a, a.length);
    }

    @Override public DType dtype() { return dtype; }
    @Override public int size() { return size; }
    @Override public Device device() { return Device.CPU; }
    @Override public int version() { return version; }
    @Override public void bumpVersion() { version++; }

    /** The backing array: {@code float[]}, {@code double[]}, {@code short[]}, {@code int[]}, {@code long[]} or {@code byte[]}. */
    public Object array() { return array; }

    /** The F32 array. @throws IllegalStateException for another dtype */
    public float[] floats() { return (float[]) typed(DType.F32); }

    /** The F64 array. @throws IllegalStateException for another dtype */
    public double[] doubles() { return (double[]) typed(DType.F64); }

    /** The I32 array. @throws IllegalStateException for another dtype */
    public int[] ints() { return (int[]) typed(DType.I32); }

    /** The I64 array. @throws IllegalStateException for another dtype */
    public long[] longs() { return (long[]) typed(DType.I64); }

    /** The BF16/F16/I16 array. @throws IllegalStateException for another dtype */
    public short[] shorts() {
        if (!(array instanceof short[] s)) throw new IllegalStateException("storage is " + dtype + ", not a 16-bit type");
        return s;
    }

    /** The I8/U8/BOOL array. @throws IllegalStateException for another dtype */
    public byte[] bytes() {
        if (!(array instanceof byte[] b)) throw new IllegalStateException("storage is " + dtype + ", not a byte type");
        return b;
    }

    private Object typed(DType want) {
        if (dtype != want) throw new IllegalStateException("storage is " + dtype + ", not " + want);
        return array;
    }

    /** Element {@code i} as a double (half types widened, integers converted, BOOL as 0/1). */
    public double getDouble(int i) {
        return switch (dtype) {
            case F32 -> ((float[]) array)[i];
            case F64 -> ((double[]) array)[i];
            case BF16 -> HalfFloat.bf16ToFloat(((short[]) array)[i]);
            case F16 -> HalfFloat.f16ToFloat(((short[]) array)[i]);
            case I16 -> ((short[]) array)[i];
            case I32 -> ((int[]) array)[i];
            case I64 -> ((long[]) array)[i];
            case I8, BOOL -> ((byte[]) array)[i];
            case U8 -> ((byte[]) array)[i] & 0xff;
        };
    }

    /** Element {@code i} as a long (floating values truncated toward zero, as a cast does). */
    public long getLong(int i) {
        return switch (dtype) {
            case I16 -> ((short[]) array)[i];
            case I32 -> ((int[]) array)[i];
            case I64 -> ((long[]) array)[i];
            case I8, BOOL -> ((byte[]) array)[i];
            case U8 -> ((byte[]) array)[i] & 0xff;
            default -> (long) getDouble(i);
        };
    }

    /** Stores {@code v} at {@code i}, converting to the dtype (rounding to nearest even for the half types; BOOL: v != 0). */
    public void setDouble(int i, double v) {
        switch (dtype) {
            case F32 -> ((float[]) array)[i] = (float) v;
            case F64 -> ((double[]) array)[i] = v;
            case BF16 -> ((short[]) array)[i] = HalfFloat.floatToBf16((float) v);
            case F16 -> ((short[]) array)[i] = HalfFloat.floatToF16((float) v);
            case I16 -> ((short[]) array)[i] = (short) (long) v;
            case I32 -> ((int[]) array)[i] = (int) (long) v;
            case I64 -> ((long[]) array)[i] = (long) v;
            case I8, U8 -> ((byte[]) array)[i] = (byte) (long) v;
            case BOOL -> ((byte[]) array)[i] = (byte) (v != 0 ? 1 : 0);
        }
    }

    /** Stores the integer {@code v} at {@code i}, converting to the dtype. */
    public void setLong(int i, long v) {
        switch (dtype) {
            case I16 -> ((short[]) array)[i] = (short) v;
            case I32 -> ((int[]) array)[i] = (int) v;
            case I64 -> ((long[]) array)[i] = v;
            case I8, U8 -> ((byte[]) array)[i] = (byte) v;
            case BOOL -> ((byte[]) array)[i] = (byte) (v != 0 ? 1 : 0);
            default -> setDouble(i, v);
        }
    }
}
