package dev.moe4j.kernels.cpu.moe;

import dev.moe4j.kernels.cpu.Parallel;

/**
 * Splits an index range [0, n) into contiguous chunks and runs them on the kernels' thread pool
 * ({@link Parallel}, so {@code -Dmoe4j.threads} and {@link Parallel#setThreads} apply) when the work is large
 * enough to pay for it, or inline otherwise. Every index belongs to exactly one chunk and a
 * chunk walks its indices in order, so a kernel whose output rows depend only on their own index gives the
 * same bits whatever the split.
 */
final class ParallelRange {
    private ParallelRange() {}

    /** The body of a chunk: processes indices {@code [start, end)}. */
    @FunctionalInterface
    interface Chunk {
        void run(int start, int end);
    }

    /** Below this many element operations in total, stay on the calling thread. */
    static final long PARALLEL_THRESHOLD = 1L << 17;
    /** Aim for at least this many element operations per chunk. */
    static final long GRAIN = 1L << 15;

    /**
     * Runs {@code chunk} over [0, n) where each index costs about {@code workPerIndex} element operations.
     */
    static void forEach(int n, long workPerIndex, Chunk chunk) {
        long total = (long) n * Math.max(1, workPerIndex);
        int threads = Parallel.threads();
        if (n < 2 || threads < 2 || total < PARALLEL_THRESHOLD) {
            chunk.run(0, n);
            return;
        }
        int chunks = (int) Math.max(2, Math.min(n, Math.min(4L * threads, total / GRAIN)));
        Parallel.forEach(chunks, c -> chunk.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks)));
    }
}
