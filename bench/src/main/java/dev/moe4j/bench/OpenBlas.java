package dev.moe4j.bench;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.openblas.global.openblas_full;

/**
 * The OpenBLAS baseline (org.bytedeco:openblas): row-major {@code cblas_sgemm} on native copies of
 * the operands, and the library's thread count and core type.
 *
 * <p>OpenBLAS picks its kernels from the CPU it finds at load time unless the environment variable
 * {@code OPENBLAS_CORETYPE} forces one; forcing an older core (e.g. Haswell on an AVX-512 machine)
 * halves its speed, so run benchmarks with {@code env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE}.
 */
final class OpenBlas {
    private OpenBlas() {}

    /** Sets the number of threads OpenBLAS uses. */
    static void setThreads(int n) { openblas_full.openblas_set_num_threads(n); }

    /** The core type OpenBLAS selected (e.g. {@code SkylakeX}, {@code Cooperlake}, {@code Zen}). */
    static String coreName() { return openblas_full.openblas_get_corename().getString(); }

    /** A warning when {@code OPENBLAS_CORETYPE} forces a core type, else an empty string. */
    static String coreTypeWarning() {
        String forced = System.getenv("OPENBLAS_CORETYPE");
        return forced == null ? "" : "WARNING: OPENBLAS_CORETYPE=" + forced + " forces OpenBLAS kernels; unset it for a fair baseline";
    }

    /** Row-major {@code C[m,n] = A[m,k] * B[k,n]} (no transposes, alpha 1, beta 0). */
    static void sgemm(int m, int n, int k, FloatPointer a, FloatPointer b, FloatPointer c) {
        openblas.cblas_sgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans,
                m, n, k, 1f, a, k, b, n, 0f, c, n);
    }
}
