package dev.moe4j.kernels.cuda;

import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

import java.nio.charset.StandardCharsets;

/**
 * The properties of a CUDA device that the launchers size their grids by.
 *
 * @param ordinal                device ordinal
 * @param name                   marketing name, e.g. "NVIDIA H100 80GB HBM3"
 * @param major                  compute capability, major
 * @param minor                  compute capability, minor
 * @param multiprocessors        streaming multiprocessors (SMs)
 * @param l2Bytes                L2 cache size in bytes
 * @param totalMemory            device memory in bytes
 * @param maxSharedPerBlockOptin the most shared memory one block may request after opting in, bytes
 */
public record DeviceInfo(int ordinal, String name, int major, int minor, int multiprocessors, long l2Bytes,
                         long totalMemory, int maxSharedPerBlockOptin) {

    /** Compute capability as {@code 10 * major + minor}, e.g. 90 for Hopper. */
    public int computeCapability() { return 10 * major + minor; }

    /** Queries device {@code ordinal} (the driver must be initialised). */
    static DeviceInfo query(int ordinal) {
        CUdevice dev = new CUdevice();
        CudaChecks.check(JCudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] name = new byte[256];
        CudaChecks.check(JCudaDriver.cuDeviceGetName(name, name.length, dev), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        long[] mem = new long[1];
        CudaChecks.check(JCudaDriver.cuDeviceTotalMem(mem, dev), "cuDeviceTotalMem");
        return new DeviceInfo(ordinal, new String(name, 0, len, StandardCharsets.UTF_8),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "COMPUTE_CAPABILITY_MAJOR"),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "COMPUTE_CAPABILITY_MINOR"),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "MULTIPROCESSOR_COUNT"),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, "L2_CACHE_SIZE"),
                mem[0],
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN"));
    }

    private static int attribute(CUdevice dev, int attribute, String name) {
        int[] v = new int[1];
        CudaChecks.check(JCudaDriver.cuDeviceGetAttribute(v, attribute, dev), "cuDeviceGetAttribute(" + name + ")");
        return v[0];
    }

    @Override
    public String toString() {
        return String.format("cuda:%d %s (sm_%d%d, %d SMs, %.1f GiB, L2 %d MiB)", ordinal, name, major, minor,
                multiprocessors, totalMemory / (double) (1L << 30), l2Bytes >> 20);
    }
}
