package dev.moe4j.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.util.Optional;

/**
 * Entry points of the CUDA driver library ({@code libcuda.so.1}, {@code nvcuda.dll} on Windows) for
 * the calls made through the Foreign Function and Memory API rather than JCuda ({@link TensorMaps},
 * {@link NativeLaunch}).
 */
final class DriverLibrary {
    private DriverLibrary() {}

    /** The library names tried, in order. */
    static String[] names() {
        return System.getProperty("os.name", "").toLowerCase().contains("win")
                ? new String[] {"nvcuda.dll", "nvcuda"}
                : new String[] {"libcuda.so.1", "libcuda.so"};
    }

    /** The address of driver function {@code symbol}, or empty when no driver library has it (or none loads). */
    static Optional<MemorySegment> find(String symbol) {
        for (String lib : names()) {
            try {
                Optional<MemorySegment> fn = SymbolLookup.libraryLookup(lib, Arena.global()).find(symbol);
                if (fn.isPresent()) return fn;
            } catch (IllegalArgumentException notThere) {
                // try the next name
            }
        }
        return Optional.empty();
    }
}
