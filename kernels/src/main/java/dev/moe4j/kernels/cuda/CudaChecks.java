package dev.moe4j.kernels.cuda;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.cublasStatus;

/**
 * Turns the result codes of CUDA driver and cuBLAS calls into {@link CudaException}s. Every call into
 * JCuda in this package goes through one of these (JCuda's own exceptions stay disabled so that the
 * message can name the call).
 */
final class CudaChecks {
    private CudaChecks() {}

    /** CUresult 2: out of device memory (the caching allocator frees its cache and retries on it). */
    static final int OUT_OF_MEMORY = CUresult.CUDA_ERROR_OUT_OF_MEMORY;

    /**
     * @param result the CUresult of a driver call
     * @param call   the call's name and arguments, for the message
     * @throws CudaException unless {@code result} is CUDA_SUCCESS
     */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) throw new CudaException(call, result, driverErrorName(result));
    }

    /**
     * @param status the cublasStatus_t of a cuBLAS call
     * @throws CudaException unless {@code status} is CUBLAS_STATUS_SUCCESS
     */
    static void checkBlas(int status, String call) {
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) throw new CudaException(call, status, cublasStatus.stringFor(status));
    }

    static String driverErrorName(int result) {
        String[] name = new String[1];
        try {
            if (JCudaDriver.cuGetErrorName(result, name) == CUresult.CUDA_SUCCESS && name[0] != null) return name[0];
        } catch (Throwable ignored) {
            // fall through to JCuda's own table
        }
        return CUresult.stringFor(result);
    }
}
