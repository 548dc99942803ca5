package dev.moe4j.tensor.io;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;

import java.util.Arrays;
import java.util.Objects;

/**
 * One entry of a safetensors header: a tensor's name, element type, shape and byte range.
 *
 * <p>The byte range {@code [dataBegin, dataEnd)} counts bytes from the start of the data section,
 * which follows the 8-byte length and the JSON header; it holds {@code numel * dtype.byteSize()}
 * bytes, elements in row-major order, each little-endian.
 *
 * @param name      the tensor's name in the header
 * @param dtype     element type
 * @param shape     dims, row-major; {@code []} for a 0-dim scalar (one element)
 * @param dataBegin first byte, relative to the data section
 * @param dataEnd   one past the last byte, relative to the data section
 */
public record TensorInfo(String name, DType dtype, int[] shape, long dataBegin, long dataEnd) {

    /** Checks the fields and copies the shape. @throws IllegalArgumentException on a negative dim, a reversed range or a size mismatch */
    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dim in shape " + Shape.str(shape));
        }
        if (dataBegin < 0 || dataEnd < dataBegin) {
            throw new IllegalArgumentException("tensor '" + name + "': byte range [" + dataBegin + ", " + dataEnd + ") is not ordered");
        }
        long want = byteCount(dtype, shape);
        if (want < 0 || dataEnd - dataBegin != want) {
            throw new IllegalArgumentException("tensor '" + name + "': byte range [" + dataBegin + ", " + dataEnd + ") holds "
                    + (dataEnd - dataBegin) + " bytes, but " + dtype + " " + Shape.str(shape) + " needs "
                    + (want < 0 ? "more than 2^63" : want));
        }
    }

    /** A copy of the shape. */
    @Override
    public int[] shape() { return shape.clone(); }

    /** Number of elements: the product of the dims, 1 for a scalar. */
    public long numel() {
        long n = 1;
        // the byte count was checked to fit in 64 bits; a product that wraps on the way is followed by a 0 dim
        for (int d : shape) n *= d;
        return n;
    }

    /** Number of bytes, {@code dataEnd - dataBegin}. */
    public long byteSize() { return dataEnd - dataBegin; }

    /**
     * {@code numel(shape) * dtype.byteSize()}, or {@code -1} when that exceeds {@code Long.MAX_VALUE}.
     * Dims must be non-negative.
     */
    static long byteCount(DType dtype, int[] shape) {
        long n = dtype.byteSize();
        for (int d : shape) {
            if (d != 0 && n > Long.MAX_VALUE / d) {
                // overflow unless a later dim is 0
                for (int e : shape) if (e == 0) return 0;
                return -1;
            }
            n *= d;
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && dataBegin == t.dataBegin && dataEnd == t.dataEnd;
    }

    @Override
    public int hashCode() { return Objects.hash(name, dtype, Arrays.hashCode(shape), dataBegin, dataEnd); }

    @Override
    public String toString() {
        return name + ": " + dtype + " " + Shape.str(shape) + " bytes [" + dataBegin + ", " + dataEnd + ")";
    }
}
