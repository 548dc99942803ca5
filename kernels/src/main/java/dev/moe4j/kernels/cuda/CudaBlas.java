package dev.moe4j.kernels.cuda;

import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.runtime.cudaStream_t;

/**
 * Dense matrix products on a device through cuBLAS (JCublas2), in row-major terms.
 *
 * <p>cuBLAS is column-major; a row-major {@code C[m, n] = A[m, k] B[k, n]} is the column-major
 * {@code C^T[n, m] = B^T[n, k] A^T[k, m]}, and a row-major matrix read as column-major is its
 * transpose. So every call swaps the operands and passes the row-major leading dimensions unchanged.
 * bf16 uses {@code cublasGemmEx} with float accumulation ({@code CUBLAS_COMPUTE_32F} = 68, data type
 * {@code CUDA_R_16BF} = 14), through JCublas2's {@code cublasGemmEx_new}, which takes a compute type
 * (the plain {@code cublasGemmEx} passes the old enum and cuBLAS 12+ rejects 68 through it). Every
 * status is checked.
 */
public final class CudaBlas {
    /** {@code CUDA_R_32F}. */
    static final int CUDA_R_32F = 0;
    /** {@code CUDA_R_16BF}. */
    static final int CUDA_R_16BF = 14;
    /** {@code CUBLAS_COMPUTE_32F}. */
    static final int CUBLAS_COMPUTE_32F = 68;
    /** {@code CUBLAS_GEMM_DEFAULT}. */
    static final int CUBLAS_GEMM_DEFAULT = -1;

    private final CudaDevice device;
    private final cublasHandle handle = new cublasHandle();

    CudaBlas(CudaDevice device) {
        this.device = device;
        device.bind();
        JCublas2.setExceptionsEnabled(false);
        CudaChecks.checkBlas(JCublas2.cublasCreate(handle), "cublasCreate");
        CudaChecks.checkBlas(JCublas2.cublasSetStream(handle, new cudaStream_t(device.stream())), "cublasSetStream");
    }

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C}, row-major, {@code op(A)} [m, k], {@code op(B)} [k, n],
     * C [m, n]; {@code transA}: A is stored as [k, m] (its transpose), likewise {@code transB}. Leading
     * dimensions are row strides in elements. {@code beta = 0} never reads C.
     *
     * @throws IllegalArgumentException for negative sizes, short leading dimensions or buffers
     */
    public void gemm(CudaDType type, boolean transA, boolean transB, int m, int n, int k, float alpha,
                     DeviceBuffer a, int lda, DeviceBuffer b, int ldb, float beta, DeviceBuffer c, int ldc) {
        gemmStridedBatched(type, transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
    }

    /**
     * {@code batch} products {@code C_i = alpha * op(A_i) op(B_i) + beta * C_i}, operand i at element
     * offset {@code i * stride} (a stride of 0 shares one matrix); otherwise as {@link #gemm}.
     */
    public void gemmStridedBatched(CudaDType type, boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   DeviceBuffer a, int lda, long strideA, DeviceBuffer b, int ldb, long strideB,
                                   float beta, DeviceBuffer c, int ldc, long strideC, int batch) {
        checkGemm(type, transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch);
        if (m == 0 || n == 0 || batch == 0) return;
        device.bind();
        int opA = transA ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        int opB = transB ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        Pointer pa = Pointer.to(new float[] {alpha}), pb = Pointer.to(new float[] {beta});
        String call = (type == CudaDType.F32 ? "cublasSgemm" : "cublasGemmEx_new(bf16, COMPUTE_32F)")
                + (batch > 1 ? "StridedBatched" : "") + "(m=" + m + ", n=" + n + ", k=" + k + ", batch=" + batch + ")";
        // column-major: C^T [n, m] = op(B)^T [n, k] * op(A)^T [k, m]
        int dt = type == CudaDType.F32 ? CUDA_R_32F : CUDA_R_16BF;
        int status;
        if (batch == 1) {
            status = type == CudaDType.F32
                    ? JCublas2.cublasSgemm(handle, opB, opA, n, m, k, pa, b.pointer(), ldb, a.pointer(), lda, pb, c.pointer(), ldc)
                    : JCublas2.cublasGemmEx_new(handle, opB, opA, n, m, k, pa, b.pointer(), dt, ldb, a.pointer(), dt, lda,
                            pb, c.pointer(), dt, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        } else {
            status = type == CudaDType.F32
                    ? JCublas2.cublasSgemmStridedBatched(handle, opB, opA, n, m, k, pa, b.pointer(), ldb, strideB,
                            a.pointer(), lda, strideA, pb, c.pointer(), ldc, strideC, batch)
                    : JCublas2.cublasGemmStridedBatchedEx_new(handle, opB, opA, n, m, k, pa, b.pointer(), dt, ldb, strideB,
                            a.pointer(), dt, lda, strideA, pb, c.pointer(), dt, ldc, strideC, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        }
        CudaChecks.checkBlas(status, call);
    }

    /** Checks of {@link #gemmStridedBatched}, also usable without a device. */
    static void checkGemm(CudaDType type, boolean transA, boolean transB, int m, int n, int k,
                          DeviceBuffer a, int lda, long strideA, DeviceBuffer b, int ldb, long strideB,
                          DeviceBuffer c, int ldc, long strideC, int batch) {
        if (type == null) throw new IllegalArgumentException("element type is null");
        if (m < 0 || n < 0 || k < 0 || batch < 0) {
            throw new IllegalArgumentException("gemm sizes must be >= 0, got m=" + m + ", n=" + n + ", k=" + k + ", batch=" + batch);
        }
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        checkMatrix("A", a, aRows, aCols, lda, strideA, batch, type);
        checkMatrix("B", b, bRows, bCols, ldb, strideB, batch, type);
        checkMatrix("C", c, m, n, ldc, strideC, batch, type);
        if (c != null && (a != null && a.device() != c.device() || b != null && b.device() != c.device())) {
            throw new IllegalArgumentException("gemm operands on different devices: " + a.device() + ", " + b.device() + ", " + c.device());
        }
    }

    private static void checkMatrix(String name, DeviceBuffer buf, int rows, int cols, int ld, long stride, int batch, CudaDType type) {
        String shape = "[" + rows + ", " + cols + "] (ld " + ld + ", batch stride " + stride + ", batch " + batch + ")";
        if (ld < Math.max(1, cols)) throw new IllegalArgumentException(name + " " + shape + ": leading dimension " + ld + " < " + Math.max(1, cols));
        if (stride < 0) throw new IllegalArgumentException(name + " " + shape + ": negative batch stride");
        long elements = rows == 0 || cols == 0 || batch == 0 ? 0 : (long) (batch - 1) * stride + (long) (rows - 1) * ld + cols;
        Checks.buffer(name, buf, elements, type.bytes(), shape);
    }

    /** Releases the cuBLAS handle. */
    void destroy() {
        device.bind();
        CudaChecks.checkBlas(JCublas2.cublasDestroy(handle), "cublasDestroy");
    }
}
