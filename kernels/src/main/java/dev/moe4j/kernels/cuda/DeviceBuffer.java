package dev.moe4j.kernels.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A range of device memory: an allocation from a device's {@link CachingAllocator}, or a slice of one.
 *
 * <p>Sizes and offsets are in bytes. {@link #close()} returns an allocation to the cache (idempotent;
 * a slice's close does nothing: it never owned memory). Host transfers synchronise the device's
 * stream first, so that they see every earlier kernel's writes, and return when the copy is done.
 * Allocations start 256-byte aligned; {@link #isAligned} tells whether a slice keeps an alignment.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaDevice device;
    private final CachingAllocator.Block<CUdeviceptr> block;  // null for a slice
    private final CUdeviceptr base;
    private final long offset;
    private final long bytes;
    private final AtomicBoolean closed = new AtomicBoolean();

    DeviceBuffer(CudaDevice device, CachingAllocator.Block<CUdeviceptr> block, CUdeviceptr base, long offset, long bytes) {
        this.device = device;
        this.block = block;
        this.base = base;
        this.offset = offset;
        this.bytes = bytes;
    }

    /** The device that holds the memory. */
    public CudaDevice device() { return device; }

    /** Size in bytes. */
    public long bytes() { return bytes; }

    /** Offset of this range from the start of its allocation, bytes. */
    public long byteOffset() { return offset; }

    /** Whether the start is a multiple of {@code alignment} bytes (a power of two up to 256). */
    public boolean isAligned(int alignment) { return offset % alignment == 0; }

    /** The device pointer of the first byte. */
    CUdeviceptr pointer() {
        checkOpen();
        return offset == 0 ? base : base.withByteOffset(offset);
    }

    /**
     * The device address of the first byte, as a number (what a tensor map records). JCuda keeps the
     * address of an allocation in a field it does not expose, so it is read reflectively.
     */
    long address() {
        checkOpen();
        return nativeAddress(base) + offset;
    }

    private static long nativeAddress(CUdeviceptr p) {
        try {
            return (long) NATIVE_POINTER.invoke(p) + (long) BYTE_OFFSET.invoke(p);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot read the address of a JCuda device pointer: " + e, e);
        }
    }

    /** The driver handle a JCuda object wraps (a CUfunction, a CUstream), as a number. */
    static long handle(jcuda.NativePointerObject p) {
        try {
            return (long) NATIVE_POINTER.invoke(p);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot read the handle of a JCuda object: " + e, e);
        }
    }

    /** JCuda's accessors of a pointer's address and byte offset (looked up once: reflection is slow). */
    private static final java.lang.reflect.Method NATIVE_POINTER = accessor(jcuda.NativePointerObject.class, "getNativePointer");
    private static final java.lang.reflect.Method BYTE_OFFSET = accessor(Pointer.class, "getByteOffset");

    private static java.lang.reflect.Method accessor(Class<?> owner, String name) {
        try {
            java.lang.reflect.Method m = owner.getDeclaredMethod(name);
            m.setAccessible(true);
            return m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;                                 // reported by nativeAddress when first needed
        }
    }

    /**
     * The bytes {@code [from, from + length)} of this range, sharing its memory; valid while the
     * allocation is open.
     *
     * @throws IndexOutOfBoundsException when the slice leaves this range
     */
    public DeviceBuffer slice(long from, long length) {
        if (from < 0 || length < 0 || from + length > bytes) {
            throw new IndexOutOfBoundsException("slice [" + from + ", " + (from + length) + ") of a " + bytes + "-byte device buffer");
        }
        return new DeviceBuffer(device, null, base, offset + from, length);
    }

    /** Whether this buffer has been closed. */
    public boolean isClosed() { return closed.get(); }

    /** Returns an allocation to the device's cache; a no-op for a slice and after the first call. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && block != null) device.allocator().release(block);
    }

    private void checkOpen() {
        if (closed.get()) throw new IllegalStateException("device buffer of " + bytes + " bytes on " + device + " was closed");
    }

    private void checkRange(String what, long at, long length) {
        if (at < 0 || length < 0 || at + length > bytes) {
            throw new IndexOutOfBoundsException(what + " of bytes [" + at + ", " + (at + length) + ") outside a " + bytes + "-byte device buffer");
        }
    }

    private static void checkHost(int arrayLength, int off, int n) {
        if (off < 0 || n < 0 || off + (long) n > arrayLength) {
            throw new IndexOutOfBoundsException("host range [" + off + ", " + (off + (long) n) + ") outside an array of " + arrayLength);
        }
    }

    // ------------------------------------------------------------------ host -> device

    /** Copies {@code n} floats from {@code src[srcOff..]} to byte {@code at} of this buffer. */
    public void write(float[] src, int srcOff, int n, long at) { checkHost(src.length, srcOff, n); upload(Pointer.to(src).withByteOffset(4L * srcOff), at, 4L * n); }

    /** Copies {@code n} ints. */
    public void write(int[] src, int srcOff, int n, long at) { checkHost(src.length, srcOff, n); upload(Pointer.to(src).withByteOffset(4L * srcOff), at, 4L * n); }

    /** Copies {@code n} shorts (bf16 / f16 bit patterns). */
    public void write(short[] src, int srcOff, int n, long at) { checkHost(src.length, srcOff, n); upload(Pointer.to(src).withByteOffset(2L * srcOff), at, 2L * n); }

    /** Copies {@code n} doubles. */
    public void write(double[] src, int srcOff, int n, long at) { checkHost(src.length, srcOff, n); upload(Pointer.to(src).withByteOffset(8L * srcOff), at, 8L * n); }

    /** Copies {@code n} longs. */
    public void write(long[] src, int srcOff, int n, long at) { checkHost(src.length, srcOff, n); upload(Pointer.to(src).withByteOffset(8L * srcOff), at, 8L * n); }

    /** Copies {@code n} bytes. */
    public void write(byte[] src, int srcOff, int n, long at) { checkHost(src.length, srcOff, n); upload(Pointer.to(src).withByteOffset(srcOff), at, n); }

    /** The whole of {@code src} to the start of this buffer. */
    public void write(float[] src) { write(src, 0, src.length, 0); }

    /** The whole of {@code src} to the start of this buffer. */
    public void write(int[] src) { write(src, 0, src.length, 0); }

    /** The whole of {@code src} to the start of this buffer. */
    public void write(short[] src) { write(src, 0, src.length, 0); }

    private void upload(Pointer host, long at, long length) {
        checkRange("write", at, length);
        if (length == 0) return;
        device.copyToDevice(pointer().withByteOffset(at), host, length);
    }

    // ------------------------------------------------------------------ device -> host

    /** Copies {@code n} floats from byte {@code at} of this buffer to {@code dst[dstOff..]}. */
    public void read(long at, float[] dst, int dstOff, int n) { checkHost(dst.length, dstOff, n); download(at, Pointer.to(dst).withByteOffset(4L * dstOff), 4L * n); }

    /** Copies {@code n} ints. */
    public void read(long at, int[] dst, int dstOff, int n) { checkHost(dst.length, dstOff, n); download(at, Pointer.to(dst).withByteOffset(4L * dstOff), 4L * n); }

    /** Copies {@code n} shorts. */
    public void read(long at, short[] dst, int dstOff, int n) { checkHost(dst.length, dstOff, n); download(at, Pointer.to(dst).withByteOffset(2L * dstOff), 2L * n); }

    /** Copies {@code n} doubles. */
    public void read(long at, double[] dst, int dstOff, int n) { checkHost(dst.length, dstOff, n); download(at, Pointer.to(dst).withByteOffset(8L * dstOff), 8L * n); }

    /** Copies {@code n} longs. */
    public void read(long at, long[] dst, int dstOff, int n) { checkHost(dst.length, dstOff, n); download(at, Pointer.to(dst).withByteOffset(8L * dstOff), 8L * n); }

    /** Copies {@code n} bytes. */
    public void read(long at, byte[] dst, int dstOff, int n) { checkHost(dst.length, dstOff, n); download(at, Pointer.to(dst).withByteOffset(dstOff), n); }

    /** The first {@code n} floats of this buffer. */
    public float[] readFloats(int n) { float[] a = new float[n]; read(0, a, 0, n); return a; }

    /** The first {@code n} ints of this buffer. */
    public int[] readInts(int n) { int[] a = new int[n]; read(0, a, 0, n); return a; }

    /** The first {@code n} shorts of this buffer. */
    public short[] readShorts(int n) { short[] a = new short[n]; read(0, a, 0, n); return a; }

    private void download(long at, Pointer host, long length) {
        checkRange("read", at, length);
        if (length == 0) return;
        device.copyToHost(host, pointer().withByteOffset(at), length);
    }

    // ------------------------------------------------------------------ on the device

    /** Sets every 32-bit word of this buffer to {@code bits} (on the stream; the size must be a multiple of 4). */
    public void fill32(int bits) {
        if (bytes % 4 != 0) throw new IllegalArgumentException("fill32 on " + bytes + " bytes, not a multiple of 4");
        if (bytes > 0) device.memset32(pointer(), bits, bytes / 4);
    }

    /** Sets every 16-bit word to {@code bits} (the size must be even). */
    public void fill16(short bits) {
        if (bytes % 2 != 0) throw new IllegalArgumentException("fill16 on " + bytes + " bytes, not a multiple of 2");
        if (bytes > 0) device.memset16(pointer(), bits, bytes / 2);
    }

    /** Sets every byte to zero (on the stream). */
    public void zero() {
        if (bytes > 0) device.memset8(pointer(), (byte) 0, bytes);
    }

    /** Copies {@code length} bytes from {@code src[srcAt..]} to this buffer's byte {@code at} (on the stream). */
    public void copyFrom(DeviceBuffer src, long srcAt, long at, long length) {
        if (src.device != device) throw new IllegalArgumentException("copy from " + src.device + " to " + device + ": devices differ");
        src.checkRange("copy source", srcAt, length);
        checkRange("copy target", at, length);
        if (length > 0) device.copyDeviceToDevice(pointer().withByteOffset(at), src.pointer().withByteOffset(srcAt), length);
    }

    @Override
    public String toString() {
        return "DeviceBuffer[" + device + ", " + bytes + " bytes" + (block == null ? ", slice at " + offset : "") + (closed.get() ? ", closed" : "") + "]";
    }
}
