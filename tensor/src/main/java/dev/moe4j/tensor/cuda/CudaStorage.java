package dev.moe4j.tensor.cuda;

import dev.moe4j.kernels.cuda.DeviceBuffer;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Storage;

import java.lang.ref.Cleaner;

/**
 * Storage in the memory of a CUDA device: a {@link DeviceBuffer} holding {@code size} elements of one
 * {@link DType}, in the same little-endian layout as the CPU arrays (so transfers are plain byte copies).
 *
 * <p>The buffer returns to the device's caching allocator when the storage becomes unreachable (a
 * {@link Cleaner}), or earlier through {@link #release()}. This is safe without synchronisation: all
 * work on a device runs on one stream, so work enqueued later, which is the only work that can reuse
 * the memory, runs after every kernel that read or wrote it.
 */
public final class CudaStorage implements Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final DType dtype;
    private final int size;
    private final Device device;
    private final DeviceBuffer buffer;
    private final Cleaner.Cleanable cleanable;
    private int version;

    /**
     * Takes ownership of {@code buffer} (at least {@code size * dtype.byteSize()} bytes).
     *
     * @throws IllegalArgumentException when the buffer is too small or the size negative
     */
    public CudaStorage(DType dtype, int size, DeviceBuffer buffer) {
        if (size < 0) throw new IllegalArgumentException("storage size must be >= 0, got " + size);
        if (buffer.bytes() < (long) size * dtype.byteSize()) {
            throw new IllegalArgumentException(size + " elements of " + dtype + " need " + (long) size * dtype.byteSize()
                    + " bytes, the device buffer has " + buffer.bytes());
        }
        this.dtype = dtype;
        this.size = size;
        this.device = Device.cuda(buffer.device().ordinal());
        this.buffer = buffer;
        this.cleanable = CLEANER.register(this, buffer::close);
    }

    /** A new storage of {@code size} elements on CUDA device {@code ordinal} (contents undefined). */
    public static CudaStorage allocate(DType dtype, long size, int ordinal) {
        if (size < 0 || size > Integer.MAX_VALUE) throw new IllegalArgumentException("cannot allocate " + size + " elements of " + dtype);
        return new CudaStorage(dtype, (int) size, CudaTensors.device(ordinal).allocate(size * dtype.byteSize()));
    }

    @Override public DType dtype() { return dtype; }
    @Override public int size() { return size; }
    @Override public Device device() { return device; }
    @Override public int version() { return version; }
    @Override public void bumpVersion() { version++; }

    /** The whole device buffer. */
    public DeviceBuffer buffer() { return buffer; }

    /** Elements {@code [offset, offset + count)} as a slice of the buffer. */
    public DeviceBuffer slice(long offset, long count) {
        return buffer.slice(offset * dtype.byteSize(), count * dtype.byteSize());
    }

    /** Returns the memory to the device's cache now; the storage must not be used afterwards. */
    public void release() { cleanable.clean(); }
}
