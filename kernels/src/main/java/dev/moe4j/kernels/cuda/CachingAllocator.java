package dev.moe4j.kernels.cuda;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * A caching allocator for device memory: freed blocks are kept in free lists by size and handed out
 * again, so that steady-state training steps make no {@code cuMemAlloc}/{@code cuMemFree} calls (each
 * of which synchronises the device).
 *
 * <p>Sizes are rounded up to a size class: multiples of {@value #SMALL_ROUND} bytes below
 * {@value #LARGE_THRESHOLD} bytes, multiples of {@value #LARGE_ROUND} bytes above. A request is served
 * from the free list of its exact class; otherwise a new block is allocated. When the raw allocation
 * runs out of memory, every cached block is released and the allocation is tried once more.
 *
 * <p>Reusing a block is safe without any event bookkeeping because each device runs all its work on
 * one stream: work enqueued after a block's release is ordered after all work that used it before.
 * Thread-safe.
 *
 * @param <H> the raw block handle (a device pointer)
 */
public final class CachingAllocator<H> {

    /** Raw allocation and release of blocks. */
    public interface RawMemory<H> {
        /**
         * Allocates {@code bytes} bytes.
         *
         * @throws OutOfMemory when the device has not enough free memory
         */
        H allocate(long bytes);

        /** Releases a block returned by {@link #allocate}. */
        void free(H block);
    }

    /** Thrown by {@link RawMemory#allocate} when the device is out of memory. */
    public static final class OutOfMemory extends RuntimeException {
        /** @param message what was asked for and what failed */
        public OutOfMemory(String message, Throwable cause) { super(message, cause); }
    }

    /** Rounding of small requests, bytes. */
    public static final long SMALL_ROUND = 512;
    /** Requests of at least this many bytes are rounded to {@link #LARGE_ROUND}. */
    public static final long LARGE_THRESHOLD = 1L << 20;
    /** Rounding of large requests, bytes. */
    public static final long LARGE_ROUND = 2L << 20;

    private final RawMemory<H> raw;
    private final TreeMap<Long, ArrayDeque<H>> free = new TreeMap<>();
    private long bytesInUse, bytesCached, rawAllocations;

    /** An allocator over {@code raw}. */
    public CachingAllocator(RawMemory<H> raw) {
        this.raw = raw;
    }

    /** The size class of a request of {@code bytes} bytes (at least one small unit, also for 0). */
    public static long sizeClass(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        long unit = bytes >= LARGE_THRESHOLD ? LARGE_ROUND : SMALL_ROUND;
        long rounded = (Math.max(bytes, 1) + unit - 1) / unit * unit;
        if (rounded < bytes) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        return rounded;
    }

    /**
     * A block of at least {@code bytes} bytes; its actual size is {@link #sizeClass}{@code (bytes)}.
     *
     * @throws OutOfMemory when the device cannot provide it even after the cache was emptied
     */
    public synchronized Block<H> allocate(long bytes) {
        long size = sizeClass(bytes);
        ArrayDeque<H> list = free.get(size);
        H h;
        if (list != null && !list.isEmpty()) {
            h = list.pop();
            bytesCached -= size;
        } else {
            try {
                h = raw.allocate(size);
            } catch (OutOfMemory first) {
                emptyCache();
                h = raw.allocate(size);
            }
            rawAllocations++;
        }
        bytesInUse += size;
        return new Block<>(h, size);
    }

    /** Returns a block to the cache (it is not released to the device). */
    public synchronized void release(Block<H> block) {
        free.computeIfAbsent(block.size(), s -> new ArrayDeque<>()).push(block.handle());
        bytesInUse -= block.size();
        bytesCached += block.size();
    }

    /** Releases every cached block to the device. */
    public synchronized void emptyCache() {
        for (Map.Entry<Long, ArrayDeque<H>> e : free.entrySet()) {
            for (H h : e.getValue()) raw.free(h);
        }
        free.clear();
        bytesCached = 0;
    }

    /** Bytes handed out and not yet released. */
    public synchronized long bytesInUse() { return bytesInUse; }

    /** Bytes held in the free lists. */
    public synchronized long bytesCached() { return bytesCached; }

    /** Number of raw allocations made so far. */
    public synchronized long rawAllocations() { return rawAllocations; }

    /**
     * One allocated block.
     *
     * @param handle the raw handle
     * @param size   its size in bytes (a size class)
     */
    public record Block<H>(H handle, long size) {}
}
