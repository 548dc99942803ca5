package dev.moe4j.kernels.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * Finds out once whether CUDA can be used in this JVM, and why not when it cannot.
 *
 * <p>The probe touches JCuda's driver bindings in a guarded block: on a machine without a GPU driver
 * the first touch of {@code JCudaDriver} throws {@link UnsatisfiedLinkError} from its static
 * initializer ({@code libcuda.so.1} missing) and every later touch {@link NoClassDefFoundError};
 * without JCuda on the class path the class is simply missing. Any {@link Throwable} becomes an
 * "unavailable" answer with the reason; the answer is cached for the life of the JVM, so the
 * failure is paid once. Setting the system property {@code moe4j.cuda=off} turns CUDA off.
 *
 * <p>The probe answers for the driver and the devices; whether the kernels of {@code cuda-src} were
 * compiled into this build is {@link KernelBuild}'s answer.
 */
public final class CudaProbe {
    private CudaProbe() {}

    /**
     * What the probe found.
     *
     * @param available   true when the driver initialised and at least one device is present
     * @param deviceCount number of CUDA devices (0 when unavailable)
     * @param devices     one line per device: name, compute capability, multiprocessors, memory
     * @param reason      why CUDA is unavailable (empty when available)
     */
    public record Status(boolean available, int deviceCount, List<String> devices, String reason) {
        public Status {
            devices = List.copyOf(devices);
        }
    }

    private static volatile Status status;

    /** The cached probe result (the first call probes; thread-safe). */
    public static Status status() {
        Status s = status;
        if (s == null) {
            synchronized (CudaProbe.class) {
                s = status;
                if (s == null) status = s = probe();
            }
        }
        return s;
    }

    /** Whether CUDA devices can be used. */
    public static boolean available() { return status().available(); }

    /** Why CUDA cannot be used; empty when it can. */
    public static String reason() { return status().reason(); }

    /** Number of CUDA devices (0 when unavailable). */
    public static int deviceCount() { return status().deviceCount(); }

    /**
     * @throws IllegalStateException naming the reason when CUDA is unavailable, or when {@code ordinal}
     *         is not a device of this machine
     */
    public static void requireDevice(int ordinal) {
        Status s = status();
        if (!s.available()) throw new IllegalStateException("CUDA is unavailable: " + s.reason());
        if (ordinal < 0 || ordinal >= s.deviceCount()) {
            throw new IllegalStateException("no CUDA device " + ordinal + ": this machine has " + s.deviceCount());
        }
    }

    private static Status probe() {
        if ("off".equalsIgnoreCase(System.getProperty("moe4j.cuda", ""))) {
            return unavailable("turned off by the system property moe4j.cuda=off");
        }
        try {
            return Driver.probe();
        } catch (UnsatisfiedLinkError e) {
            return unavailable("the CUDA driver library could not be loaded (no GPU driver on this machine?): " + firstCause(e));
        } catch (NoClassDefFoundError e) {
            String missing = String.valueOf(e.getMessage());
            return unavailable(missing.startsWith("jcuda") || missing.startsWith("jcuda/")
                    ? "JCuda is not on the class path (" + missing + "); add org.jcuda:jcuda and org.jcuda:jcublas"
                    : "JCuda's driver bindings failed to initialise earlier in this JVM: " + missing);
        } catch (CudaException e) {
            return unavailable(e.getMessage());
        } catch (Throwable e) {
            return unavailable("CUDA probe failed: " + e);
        }
    }

    private static Status unavailable(String reason) {
        return new Status(false, 0, List.of(), reason);
    }

    /** The most telling line of a native-library failure: the one naming the missing library. */
    static String firstCause(Throwable e) {
        String m = String.valueOf(e.getMessage());
        for (String line : m.split("\n")) {
            int lib = line.indexOf("libcuda");
            if (lib < 0) lib = line.indexOf("cannot open shared object");
            if (lib >= 0) return line.substring(line.lastIndexOf('/', lib) + 1).trim();
        }
        String first = m.split("\n", 2)[0].trim();
        return first.isEmpty() ? e.getClass().getSimpleName() : first;
    }

    /** The part that touches JCuda: a separate class, so that loading {@link CudaProbe} never needs JCuda. */
    private static final class Driver {
        static Status probe() {
            jcuda.driver.JCudaDriver.setExceptionsEnabled(false);
            CudaChecks.check(jcuda.driver.JCudaDriver.cuInit(0), "cuInit(0)");
            int[] count = new int[1];
            CudaChecks.check(jcuda.driver.JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
            if (count[0] == 0) return unavailable("the CUDA driver found no device");
            List<String> devices = new ArrayList<>();
            for (int i = 0; i < count[0]; i++) devices.add(DeviceInfo.query(i).toString());
            return new Status(true, count[0], devices, "");
        }
    }
}
