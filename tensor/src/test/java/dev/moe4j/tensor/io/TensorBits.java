package dev.moe4j.tensor.io;

import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Random;

/** Test helpers: raw element bit patterns in logical order, and tensors of random bit patterns. */
final class TensorBits {
    private TensorBits() {}

    /**
     * The raw bits of every element of {@code t} in row-major order of its shape (floats as their raw
     * IEEE bits, so NaN payloads and -0 count). Each flat index is decomposed by div/mod into a
     * multi-index and mapped through the strides.
     */
    static long[] logical(Tensor t) {
        int n = t.numel();
        int[] shape = t.shape(), strides = t.strides();
        CpuStorage s = t.cpuStorage();
        long[] out = new long[n];
        for (int flat = 0; flat < n; flat++) {
            int rem = flat;
            long p = t.offset();
            for (int d = shape.length - 1; d >= 0; d--) {
                p += (long) (rem % shape[d]) * strides[d];
                rem /= shape[d];
            }
            out[flat] = raw(s, (int) p);
        }
        return out;
    }

    static long raw(CpuStorage s, int i) {
        return switch (s.dtype()) {
            case F64 -> Double.doubleToRawLongBits(s.doubles()[i]);
            case F32 -> Float.floatToRawIntBits(s.floats()[i]);
            case BF16, F16, I16 -> s.shorts()[i];
            case I32 -> s.ints()[i];
            case I64 -> s.longs()[i];
            case I8, U8, BOOL -> s.bytes()[i];
        };
    }

    /** A contiguous tensor of {@code dtype} and {@code shape} filled with random bit patterns (BOOL: 0/1). */
    static Tensor random(Random rnd, DType dtype, int... shape) {
        int n = (int) Shape.numel(shape);
        CpuStorage s = switch (dtype) {
            case F64 -> {
                double[] a = new double[n];
                for (int i = 0; i < n; i++) a[i] = Double.longBitsToDouble(rnd.nextLong());
                yield CpuStorage.of(a);
            }
            case F32 -> {
                float[] a = new float[n];
                for (int i = 0; i < n; i++) a[i] = Float.intBitsToFloat(rnd.nextInt());
                yield CpuStorage.of(a);
            }
            case BF16, F16, I16 -> {
                short[] a = new short[n];
                for (int i = 0; i < n; i++) a[i] = (short) rnd.nextInt();
                yield CpuStorage.ofShorts(dtype, a);
            }
            case I32 -> {
                int[] a = new int[n];
                for (int i = 0; i < n; i++) a[i] = rnd.nextInt();
                yield CpuStorage.of(a);
            }
            case I64 -> {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) a[i] = rnd.nextLong();
                yield CpuStorage.of(a);
            }
            case I8, U8 -> {
                byte[] a = new byte[n];
                rnd.nextBytes(a);
                yield CpuStorage.ofBytes(dtype, a);
            }
            case BOOL -> {
                byte[] a = new byte[n];
                for (int i = 0; i < n; i++) a[i] = (byte) rnd.nextInt(2);
                yield CpuStorage.ofBytes(dtype, a);
            }
        };
        return new Tensor(s, shape, Shape.contiguousStrides(shape), 0);
    }
}
