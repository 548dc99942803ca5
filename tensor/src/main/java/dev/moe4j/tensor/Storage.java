package dev.moe4j.tensor;

/**
 * A flat buffer of elements of one {@link DType} on one {@link Device}. Tensors are views over a
 * storage (shape, strides and offset); several tensors may share one storage.
 *
 * <p>Each storage carries a version counter, bumped by every in-place write through any of its views,
 * so that autograd can tell when a tensor saved for backward has been changed since.
 */
public interface Storage {
    /** Element type. */
    DType dtype();

    /** Number of elements. */
    int size();

    /** Where the elements live. */
    Device device();

    /** Number of in-place writes so far. */
    int version();

    /** Records one in-place write. */
    void bumpVersion();
}
