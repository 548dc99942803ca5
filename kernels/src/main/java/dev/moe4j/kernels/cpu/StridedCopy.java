package dev.moe4j.kernels.cpu;

/**
 * Copies a strided view of one primitive array into a dense row-major block of another array of the
 * same element type. This is what {@code contiguous()} and {@code clone()} run.
 *
 * <p>Shapes: the view has {@code shape} [d0, ..., dn-1] and element (i0, ..., in-1) sits at
 * {@code srcOff + sum(ik * srcStrides[k])}; it is written to {@code dst[dstOff + rowMajorIndex]}.
 * The outer dims are walked with an odometer, the innermost dim with a tight loop (a bulk
 * {@link System#arraycopy} when its stride is 1).
 */
public final class StridedCopy {
    private StridedCopy() {}

    /**
     * Copies the view; {@code src} and {@code dst} must be arrays of the same primitive type.
     *
     * @throws IllegalArgumentException when the array types differ or ranks disagree
     */
    public static void copy(Object src, int srcOff, int[] shape, int[] srcStrides, Object dst, int dstOff) {
        if (src.getClass() != dst.getClass()) {
            throw new IllegalArgumentException("array types differ: " + src.getClass().getSimpleName() + " vs " + dst.getClass().getSimpleName());
        }
        if (shape.length != srcStrides.length) {
            throw new IllegalArgumentException("rank of shape (" + shape.length + ") and strides (" + srcStrides.length + ") differ");
        }
        long total = 1;
        for (int d : shape) total *= d;
        if (total == 0) return;
        if (shape.length == 0) {
            System.arraycopy(src, srcOff, dst, dstOff, 1);
            return;
        }
        int rank = shape.length;
        int inner = shape[rank - 1];
        int innerStride = srcStrides[rank - 1];
        int[] idx = new int[rank - 1];
        int s = srcOff;
        int d = dstOff;
        long rows = total / inner;
        for (long r = 0; r < rows; r++) {
            copyRow(src, s, innerStride, dst, d, inner);
            d += inner;
            for (int k = rank - 2; k >= 0; k--) {          // odometer over the outer dims
                idx[k]++;
                s += srcStrides[k];
                if (idx[k] < shape[k]) break;
                s -= srcStrides[k] * shape[k];
                idx[k] = 0;
            }
        }
    }

    private static void copyRow(Object src, int s, int stride, Object dst, int d, int n) {
        if (stride == 1) {
            System.arraycopy(src, s, dst, d, n);
            return;
        }
        switch (src) {
            case float[] a -> { float[] b = (float[]) dst; for (int i = 0; i < n; i++) b[d + i] = a[s + i * stride]; }
            case double[] a -> { double[] b = (double[]) dst; for (int i = 0; i < n; i++) b[d + i] = a[s + i * stride]; }
            case int[] a -> { int[] b = (int[]) dst; for (int i = 0; i < n; i++) b[d + i] = a[s + i * stride]; }
            case long[] a -> { long[] b = (long[]) dst; for (int i = 0; i < n; i++) b[d + i] = a[s + i * stride]; }
            case short[] a -> { short[] b = (short[]) dst; for (int i = 0; i < n; i++) b[d + i] = a[s + i * stride]; }
            case byte[] a -> { byte[] b = (byte[]) dst; for (int i = 0; i < n; i++) b[d + i] = a[s + i * stride]; }
            default -> throw new IllegalArgumentException("not a primitive array: " + src.getClass());
        }
    }
}
