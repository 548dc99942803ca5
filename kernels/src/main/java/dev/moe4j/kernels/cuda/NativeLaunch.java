package dev.moe4j.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Kernel launches through the driver's {@code cuLaunchKernel} called with the Foreign Function and
 * Memory API instead of JCuda's binding.
 *
 * <p>Why: a launch passes {@code void **kernelParams}, one pointer to each argument's bytes. JCuda
 * builds that array from Java objects one argument at a time across JNI, which costs about a
 * microsecond per argument (measured on an H200: a 17-argument gating launch took 0.034 ms per call
 * and the same launch with its arguments in one struct 0.014 ms). Here the arguments are written into
 * one block of native memory and the array points into it, so a launch costs about the same whatever
 * its number of arguments.
 *
 * <p>Layout of the block: each argument in its own slot, aligned to 8 bytes (64 for a tensor map):
 * a device buffer as its 64-bit address (0 for null), an int, a float, a long, an {@code int[]} as a
 * struct of ints, a {@code byte[]} as raw bytes (a CUtensorMap). The driver copies the bytes of each
 * parameter, its size taken from the kernel's signature, before {@code cuLaunchKernel} returns.
 *
 * <p>{@link #available()} is false (and {@link CudaDevice} keeps using JCuda) when the driver symbol
 * cannot be found or the system property {@code moe4j.cuda.launch} is {@code jcuda}.
 */
final class NativeLaunch {
    private NativeLaunch() {}

    private static final MethodHandle LAUNCH;
    private static final String REASON;

    static {
        MethodHandle h = null;
        String why = null;
        if ("jcuda".equalsIgnoreCase(System.getProperty("moe4j.cuda.launch", ""))) {
            why = "launches go through JCuda (moe4j.cuda.launch=jcuda)";
        } else {
            try {
                Optional<MemorySegment> fn = DriverLibrary.find("cuLaunchKernel");
                if (fn.isEmpty()) {
                    why = "cuLaunchKernel not found in the CUDA driver library";
                } else {
                    // CUresult cuLaunchKernel(CUfunction f, unsigned gx, gy, gz, bx, by, bz, unsigned sharedBytes,
                    //                         CUstream stream, void **kernelParams, void **extra)
                    h = Linker.nativeLinker().downcallHandle(fn.get(), FunctionDescriptor.of(JAVA_INT,
                            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
                }
            } catch (RuntimeException | LinkageError e) {
                why = "cannot call cuLaunchKernel through the foreign function API: " + e;
            }
        }
        LAUNCH = h;
        REASON = why;
    }

    /** Whether launches can go this way. */
    static boolean available() { return LAUNCH != null; }

    /** Why they cannot (null when they can). */
    static String reason() { return REASON; }

    /** Bytes of argument {@code a}'s slot, before alignment. */
    static int slotBytes(Object a) {
        if (a == null || a instanceof DeviceBuffer || a instanceof Long) return 8;
        if (a instanceof Integer || a instanceof Float) return 4;
        if (a instanceof int[] v) return 4 * v.length;
        if (a instanceof byte[] v) return v.length;
        throw new IllegalArgumentException("unsupported kernel argument type " + a.getClass().getName());
    }

    /** Alignment of argument {@code a}'s slot: 64 for a tensor map ({@code byte[]}), else 8. */
    static int slotAlignment(Object a) { return a instanceof byte[] ? 64 : 8; }

    /**
     * Writes the arguments into {@code block} and their addresses into {@code pointers} (one address
     * each, in order); returns the bytes of {@code block} used.
     */
    static long writeArguments(Object[] args, MemorySegment block, MemorySegment pointers) {
        long at = 0;
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            int align = slotAlignment(a);
            at = (at + align - 1) / align * align;
            MemorySegment slot = block.asSlice(at, Math.max(8, slotBytes(a)));
            if (a == null) slot.set(JAVA_LONG, 0, 0L);
            else if (a instanceof DeviceBuffer b) slot.set(JAVA_LONG, 0, b.address());
            else if (a instanceof Long v) slot.set(JAVA_LONG, 0, v);
            else if (a instanceof Integer v) slot.set(JAVA_INT, 0, v);
            else if (a instanceof Float v) slot.set(JAVA_FLOAT, 0, v);
            else if (a instanceof int[] v) MemorySegment.copy(v, 0, slot, JAVA_INT, 0, v.length);
            else if (a instanceof byte[] v) MemorySegment.copy(v, 0, slot, JAVA_BYTE, 0, v.length);
            pointers.setAtIndex(ADDRESS, i, slot);
            at += Math.max(8, slotBytes(a));
        }
        return at;
    }

    /** Bytes a block needs for {@code args} (slots with their alignment, plus the 64 of the block's own alignment). */
    static long blockBytes(Object[] args) {
        long at = 0;
        for (Object a : args) {
            int align = slotAlignment(a);
            at = (at + align - 1) / align * align + Math.max(8, slotBytes(a));
        }
        return at + 64;
    }

    /**
     * Launches {@code function} on {@code stream} (both driver handles as addresses) with the
     * arguments; returns the driver's result code.
     */
    static int launch(long function, LaunchGeometry.Grid grid, int sharedBytes, long stream, Object[] args) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment block = arena.allocate(blockBytes(args), 64);
            MemorySegment pointers = arena.allocate(ADDRESS, Math.max(1, args.length));
            writeArguments(args, block, pointers);
            return (int) LAUNCH.invokeExact(MemorySegment.ofAddress(function), grid.gx(), grid.gy(), grid.gz(), grid.bx(), grid.by(),
                    grid.bz(), sharedBytes, MemorySegment.ofAddress(stream), pointers, MemorySegment.NULL);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuLaunchKernel through the foreign function API failed: " + t, t);
        }
    }
}
