package dev.moe4j.kernels.cuda;

/**
 * A CUDA driver or cuBLAS call that did not return success. The message names the call and the error
 * (e.g. {@code cuMemAlloc(1073741824 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)}).
 */
public final class CudaException extends RuntimeException {
    private final String call;
    private final int code;
    private final String errorName;

    /**
     * @param call      the call and, where useful, its arguments
     * @param code      the numeric result (CUresult or cublasStatus_t)
     * @param errorName the symbolic name of the result
     */
    public CudaException(String call, int code, String errorName) {
        super(call + " failed: " + errorName + " (" + code + ")");
        this.call = call;
        this.code = code;
        this.errorName = errorName;
    }

    /** The call that failed, with its arguments where they were given. */
    public String call() { return call; }

    /** The numeric result code. */
    public int code() { return code; }

    /** The symbolic name of the result, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public String errorName() { return errorName; }
}
