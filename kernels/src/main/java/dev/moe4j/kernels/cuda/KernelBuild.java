package dev.moe4j.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * What the build put on the class path from {@code cuda-src/}: one fatbin per {@code .cu} file under
 * {@code dev/moe4j/kernels/cuda/} (sm_80 and sm_90a machine code, compute_80 PTX), described by
 * {@code cuda-build.properties}, or the reason there are none (no nvcc on the PATH at build time).
 */
public final class KernelBuild {
    private KernelBuild() {}

    /** Class-path folder of the fatbins. */
    public static final String RESOURCE_DIR = "/dev/moe4j/kernels/cuda/";

    /** The kernel modules, one per {@code cuda-src/*.cu}. */
    public static final List<String> MODULES = List.of("gating", "grouped_gemm", "grouped_gemm_sm90", "routing");

    /**
     * The build's record.
     *
     * @param built   true when the fatbins were compiled
     * @param nvcc    the nvcc release that compiled them (empty when not built)
     * @param modules the module names compiled
     * @param reason  why they are missing (empty when built)
     */
    public record Info(boolean built, String nvcc, List<String> modules, String reason) {
        public Info {
            modules = List.copyOf(modules);
        }
    }

    private static volatile Info info;

    /** The build record read from the class path (cached). */
    public static Info info() {
        Info i = info;
        if (i == null) info = i = read();
        return i;
    }

    /** Whether every kernel module is on the class path. */
    public static boolean available() {
        Info i = info();
        return i.built() && i.modules().containsAll(MODULES);
    }

    /** Why the kernels cannot be used; empty when they can. */
    public static String reason() {
        Info i = info();
        if (!i.built()) return i.reason();
        if (!i.modules().containsAll(MODULES)) return "the build compiled " + i.modules() + ", missing some of " + MODULES;
        return "";
    }

    /**
     * The bytes of one module's fatbin.
     *
     * @throws IllegalStateException naming the reason when the fatbins were not built or the module is missing
     */
    public static byte[] fatbin(String module) {
        if (!available()) throw new IllegalStateException("CUDA kernels are unavailable: " + reason());
        try (InputStream in = KernelBuild.class.getResourceAsStream(RESOURCE_DIR + module + ".fatbin")) {
            if (in == null) throw new IllegalStateException("fatbin of module '" + module + "' is missing from the class path");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading the fatbin of module " + module, e);
        }
    }

    private static Info read() {
        try (InputStream in = KernelBuild.class.getResourceAsStream(RESOURCE_DIR + "cuda-build.properties")) {
            if (in == null) {
                return new Info(false, "", List.of(), "the kernels module was built without cuda-src/build.sh (no cuda-build.properties on the class path)");
            }
            Properties p = new Properties();
            p.load(in);
            boolean built = Boolean.parseBoolean(p.getProperty("built", "false"));
            List<String> modules = Arrays.stream(p.getProperty("modules", "").split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
            return new Info(built, p.getProperty("nvcc", ""), modules, built ? "" : p.getProperty("reason", "unknown"));
        } catch (IOException e) {
            return new Info(false, "", List.of(), "cuda-build.properties could not be read: " + e.getMessage());
        }
    }
}
