package dev.moe4j.kernels.cuda;

/**
 * Which numbered version of a kernel a launcher runs (the {@code v1}, {@code v2}, ... of the
 * {@code cuda-src} files). {@link #AUTO} picks the fastest one that supports the problem; tests and
 * benchmarks name a version to check or time it on its own.
 */
public enum KernelVersion {
    /** The fastest version that supports the problem. */
    AUTO,
    /** The naive version: the readable reference on the device. */
    V1,
    /** The second version (tiled, warp-per-token or vectorised, per kernel family). */
    V2,
    /** The third version (grouped GEMM: bf16 tensor cores, mma.sync). */
    V3,
    /**
     * The fourth version (grouped GEMM on Hopper: warpgroup MMA fed by bulk tensor copies, sm_90a; runs
     * only on compute capability 9.x).
     */
    V4
}
