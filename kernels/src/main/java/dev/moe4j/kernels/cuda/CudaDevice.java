package dev.moe4j.kernels.cuda;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

import java.util.HashMap;
import java.util.Map;

/**
 * One CUDA device as this library uses it: its primary context, one stream on which all work runs in
 * order, a {@link CachingAllocator} for its memory, the kernel modules of {@link KernelBuild} loaded on
 * first use, and a cuBLAS handle ({@link #blas()}).
 *
 * <p>{@link #get} returns the one instance per ordinal. Every method that calls the driver first makes
 * the device's context current in the calling thread ({@code cuCtxSetCurrent}), so the device can be
 * used from any thread. Every driver call is checked: a failure is a {@link CudaException} naming the
 * call and the CUDA error. Kernels are launched through {@link NativeLaunch} (the driver called with
 * the foreign function API, one block of native memory for the arguments) where it is available, else
 * through JCuda. Kernel launches are asynchronous; with the system property
 * {@code moe4j.cuda.sync=true} each launch is followed by a stream synchronisation and a check, so an
 * error is reported by the launch that caused it.
 */
public final class CudaDevice {
    private static final CudaDevice[] DEVICES = new CudaDevice[64];
    private static final boolean SYNC_EACH_LAUNCH = Boolean.getBoolean("moe4j.cuda.sync");

    private final int ordinal;
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final DeviceInfo info;
    private final CachingAllocator<CUdeviceptr> allocator;
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Map<CUfunction, Integer> dynamicSharedLimit = new HashMap<>();
    private CudaBlas blas;

    /**
     * The device with ordinal {@code i}.
     *
     * @throws IllegalStateException naming the reason when CUDA is unavailable or there is no such device
     */
    public static CudaDevice get(int i) {
        CudaProbe.requireDevice(i);
        synchronized (DEVICES) {
            if (DEVICES[i] == null) DEVICES[i] = new CudaDevice(i);
            return DEVICES[i];
        }
    }

    private CudaDevice(int ordinal) {
        this.ordinal = ordinal;
        CUdevice dev = new CUdevice();
        CudaChecks.check(JCudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        CudaChecks.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, dev), "cuDevicePrimaryCtxRetain(" + ordinal + ")");
        bind();
        CudaChecks.check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT), "cuStreamCreate");
        this.info = DeviceInfo.query(ordinal);
        this.allocator = new CachingAllocator<>(new CachingAllocator.RawMemory<>() {
            @Override
            public CUdeviceptr allocate(long bytes) {
                bind();
                CUdeviceptr p = new CUdeviceptr();
                int r = JCudaDriver.cuMemAlloc(p, bytes);
                if (r == CudaChecks.OUT_OF_MEMORY) {
                    throw new CachingAllocator.OutOfMemory("cuMemAlloc(" + bytes + " bytes) on " + CudaDevice.this + ": out of memory",
                            new CudaException("cuMemAlloc(" + bytes + " bytes)", r, CudaChecks.driverErrorName(r)));
                }
                CudaChecks.check(r, "cuMemAlloc(" + bytes + " bytes)");
                return p;
            }

            @Override
            public void free(CUdeviceptr block) {
                bind();
                CudaChecks.check(JCudaDriver.cuMemFree(block), "cuMemFree");
            }
        });
    }

    /** Device ordinal. */
    public int ordinal() { return ordinal; }

    /** Name, compute capability, multiprocessors, memory sizes. */
    public DeviceInfo info() { return info; }

    /** The allocator of this device's memory. */
    public CachingAllocator<CUdeviceptr> allocator() { return allocator; }

    /** Makes this device's primary context current in the calling thread. */
    public void bind() {
        if (BOUND.get() == this) return;
        int rc = JCudaDriver.cuCtxSetCurrent(context);
        if (rc != 0) CudaChecks.check(rc, "cuCtxSetCurrent(cuda:" + ordinal + ")");
        BOUND.set(this);
    }

    /**
     * The device whose context {@link #bind} last made current in each thread. This library sets
     * contexts only here; code that switches the current context itself (cuCtxSetCurrent,
     * cuCtxPushCurrent) on a thread that also uses this library must call {@link #unbindThread} after.
     */
    private static final ThreadLocal<CudaDevice> BOUND = new ThreadLocal<>();

    /** Forgets which context this thread has current, so that the next {@link #bind} sets it again. */
    public static void unbindThread() { BOUND.remove(); }

    /** The stream every operation on this device runs on. */
    CUstream stream() { return stream; }

    /**
     * A buffer of at least {@code bytes} bytes from the caching allocator (contents undefined).
     *
     * @throws CachingAllocator.OutOfMemory when the device has not enough memory
     */
    public DeviceBuffer allocate(long bytes) {
        CachingAllocator.Block<CUdeviceptr> b = allocator.allocate(bytes);
        return new DeviceBuffer(this, b, b.handle(), 0, bytes);
    }

    /** Waits until every operation enqueued on this device has finished. */
    public void synchronize() {
        bind();
        CudaChecks.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize(cuda:" + ordinal + ")");
    }

    // ------------------------------------------------------------------ copies and fills

    void copyToDevice(CUdeviceptr dst, Pointer src, long bytes) {
        synchronize();
        CudaChecks.check(JCudaDriver.cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD(" + bytes + " bytes)");
    }

    void copyToHost(Pointer dst, CUdeviceptr src, long bytes) {
        synchronize();
        CudaChecks.check(JCudaDriver.cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH(" + bytes + " bytes)");
    }

    void copyDeviceToDevice(CUdeviceptr dst, CUdeviceptr src, long bytes) {
        bind();
        CudaChecks.check(JCudaDriver.cuMemcpyDtoDAsync(dst, src, bytes, stream), "cuMemcpyDtoDAsync(" + bytes + " bytes)");
    }

    void memset32(CUdeviceptr dst, int bits, long words) {
        bind();
        CudaChecks.check(JCudaDriver.cuMemsetD32Async(dst, bits, words, stream), "cuMemsetD32Async(" + words + " words)");
    }

    void memset16(CUdeviceptr dst, short bits, long words) {
        bind();
        CudaChecks.check(JCudaDriver.cuMemsetD16Async(dst, bits, words, stream), "cuMemsetD16Async(" + words + " words)");
    }

    void memset8(CUdeviceptr dst, byte bits, long count) {
        bind();
        CudaChecks.check(JCudaDriver.cuMemsetD8Async(dst, bits, count, stream), "cuMemsetD8Async(" + count + " bytes)");
    }

    // ------------------------------------------------------------------ kernels

    /**
     * The kernel {@code name} of module {@code module} (a {@code cuda-src/*.cu} file), loading the
     * module's fatbin on first use.
     *
     * @throws IllegalStateException when the fatbins were not built
     */
    synchronized CUfunction function(String module, String name) {
        String key = module + "/" + name;
        CUfunction f = functions.get(key);
        if (f != null) return f;
        CUmodule m = modules.get(module);
        if (m == null) {
            bind();
            m = new CUmodule();
            CudaChecks.check(JCudaDriver.cuModuleLoadData(m, KernelBuild.fatbin(module)), "cuModuleLoadData(" + module + ".fatbin)");
            modules.put(module, m);
        }
        f = new CUfunction();
        CudaChecks.check(JCudaDriver.cuModuleGetFunction(f, m, name), "cuModuleGetFunction(" + module + ", " + name + ")");
        functions.put(key, f);
        return f;
    }

    /**
     * Launches {@code module/name} on this device's stream. Arguments, in the kernel's order: a
     * {@link DeviceBuffer} (its pointer), {@code null} (a null pointer), {@link Integer}, {@link Long},
     * {@link Float}, an {@code int[]} (a struct of ints passed by value, e.g. a shape-and-strides
     * layout), or a {@code byte[]} passed by value (a {@link TensorMaps tensor map}: the kernel's
     * parameter is read from the array, its size taken from the kernel's signature).
     *
     * @throws CudaException naming the kernel and the error when the launch fails
     */
    void launch(String module, String name, LaunchGeometry.Grid grid, int sharedBytes, Object... args) {
        if (grid.isEmpty()) return;
        CUfunction f = function(module, name);
        bind();
        if (sharedBytes > 48 * 1024) raiseSharedLimit(f, name, sharedBytes);
        int rc;
        if (NativeLaunch.available()) {
            for (int i = 0; i < args.length; i++) NativeLaunch.slotBytes(checkedArgument(args[i], name, i));
            rc = NativeLaunch.launch(DeviceBuffer.handle(f), grid, sharedBytes, DeviceBuffer.handle(stream), args);
        } else {
            NativePointerObject[] params = new NativePointerObject[args.length];
            for (int i = 0; i < args.length; i++) params[i] = parameter(args[i], name, i);
            rc = JCudaDriver.cuLaunchKernel(f, grid.gx(), grid.gy(), grid.gz(), grid.bx(), grid.by(), grid.bz(),
                    sharedBytes, stream, Pointer.to(params), null);
        }
        // the message is built only on failure: a launch costs microseconds of host time, and strings add to them
        if (rc != 0) CudaChecks.check(rc, "cuLaunchKernel(" + name + ", " + grid + ", " + sharedBytes + " B shared)");
        if (SYNC_EACH_LAUNCH) {
            CudaChecks.check(JCudaDriver.cuStreamSynchronize(stream), "cuLaunchKernel(" + name + ", " + grid + ") then cuStreamSynchronize");
        }
    }

    private synchronized void raiseSharedLimit(CUfunction f, String name, int bytes) {
        Integer now = dynamicSharedLimit.get(f);
        if (now != null && now >= bytes) return;
        if (bytes > info.maxSharedPerBlockOptin()) {
            throw new IllegalArgumentException("kernel " + name + " needs " + bytes + " bytes of shared memory, " + this
                    + " allows " + info.maxSharedPerBlockOptin());
        }
        CudaChecks.check(JCudaDriver.cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + bytes + ")");
        dynamicSharedLimit.put(f, bytes);
    }

    /** {@code a} when it is a kernel argument type {@link #launch} takes. */
    private static Object checkedArgument(Object a, String kernel, int i) {
        if (a == null || a instanceof DeviceBuffer || a instanceof Integer || a instanceof Float || a instanceof Long
                || a instanceof byte[] || a instanceof int[]) return a;
        throw new IllegalArgumentException("argument " + i + " of kernel " + kernel + " has unsupported type " + a.getClass().getName());
    }

    private static Pointer parameter(Object a, String kernel, int i) {
        if (a == null) return Pointer.to(new CUdeviceptr());
        if (a instanceof DeviceBuffer b) return Pointer.to(b.pointer());
        if (a instanceof Integer v) return Pointer.to(new int[] {v});
        if (a instanceof Float v) return Pointer.to(new float[] {v});
        if (a instanceof Long v) return Pointer.to(new long[] {v});
        if (a instanceof byte[] v) return Pointer.to(v);
        if (a instanceof int[] v) return Pointer.to(v.clone());
        throw new IllegalArgumentException("argument " + i + " of kernel " + kernel + " has unsupported type " + a.getClass().getName());
    }

    // ------------------------------------------------------------------ cuBLAS and timing

    /** This device's cuBLAS handle, bound to its stream (created on first use). */
    public synchronized CudaBlas blas() {
        if (blas == null) blas = new CudaBlas(this);
        return blas;
    }

    /**
     * Times {@code work} with CUDA events recorded on this device's stream around it; returns the
     * elapsed device time in milliseconds (waits for the work to finish).
     */
    public float time(Runnable work) {
        bind();
        CUevent start = new CUevent(), stop = new CUevent();
        CudaChecks.check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
        CudaChecks.check(JCudaDriver.cuEventCreate(stop, 0), "cuEventCreate");
        try {
            CudaChecks.check(JCudaDriver.cuEventRecord(start, stream), "cuEventRecord(start)");
            work.run();
            bind();
            CudaChecks.check(JCudaDriver.cuEventRecord(stop, stream), "cuEventRecord(stop)");
            CudaChecks.check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize(stop)");
            float[] ms = new float[1];
            CudaChecks.check(JCudaDriver.cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
            return ms[0];
        } finally {
            JCudaDriver.cuEventDestroy(start);
            JCudaDriver.cuEventDestroy(stop);
        }
    }

    @Override
    public String toString() { return "cuda:" + ordinal; }
}
