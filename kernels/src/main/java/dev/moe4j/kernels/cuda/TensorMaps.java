package dev.moe4j.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Tensor maps for the bulk tensor copies (TMA) of the Hopper kernels: the 128 opaque bytes of a
 * {@code CUtensorMap}, encoded by the CUDA driver's {@code cuTensorMapEncodeTiled} and passed to a kernel
 * by value (a {@code const __grid_constant__ CUtensorMap} parameter; {@link CudaDevice#launch} takes the
 * {@code byte[]}).
 *
 * <p>JCuda 12.6 has no binding for {@code cuTensorMapEncodeTiled}, so it is called through the Foreign
 * Function and Memory API on the driver library that JCuda's natives already loaded ({@code libcuda.so.1};
 * {@code nvcuda.dll} on Windows). The driver validates every field; this class checks the documented
 * limits first so that a bad request names the value at fault.
 *
 * <p>A tiled map of rank r over a row-major tensor: {@code dims[0]} is the contiguous dimension (elements),
 * {@code strides[i]} the byte stride of dimension {@code i + 1}, and a copy moves a box of
 * {@code box[0] x ... x box[r-1]} elements (out-of-range elements read as zero) into shared memory in the
 * 128-byte swizzled layout that wgmma reads.
 */
final class TensorMaps {
    private TensorMaps() {}

    /** Size of a CUtensorMap in bytes ({@code CU_TENSOR_MAP_NUM_QWORDS * 8}). */
    static final int BYTES = 128;

    // cuda.h enum values
    static final int DATA_TYPE_BFLOAT16 = 9;
    static final int INTERLEAVE_NONE = 0;
    static final int SWIZZLE_128B = 3;
    static final int L2_PROMOTION_256B = 3;
    static final int OOB_FILL_NONE = 0;

    /** The driver entry point, or the reason it cannot be had (looked up on first use). */
    private static final class Driver {
        static final MethodHandle ENCODE;
        static final String REASON;

        static {
            MethodHandle h = null;
            String why = null;
            try {
                Optional<MemorySegment> fn = DriverLibrary.find("cuTensorMapEncodeTiled");
                if (fn.isEmpty()) {
                    why = "cuTensorMapEncodeTiled not found in the CUDA driver library (" + String.join(", ", DriverLibrary.names())
                            + "); the driver must be CUDA 12.0 or newer";
                } else {
                    h = Linker.nativeLinker().downcallHandle(fn.get(), FunctionDescriptor.of(JAVA_INT,
                            ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
                }
            } catch (RuntimeException | LinkageError e) {
                why = "cannot call cuTensorMapEncodeTiled through the foreign function API: " + e;
            }
            ENCODE = h;
            REASON = why;
        }
    }

    /**
     * Encodes a tiled bf16 tensor map with 128-byte swizzle, 256-byte L2 promotion and zero fill.
     *
     * @param address device address of element (0, ..., 0), 16-byte aligned
     * @param dims    elements per dimension, innermost first, each in [1, 2^32]
     * @param strides byte strides of dimensions 1 .. r-1, multiples of 16 below 2^40
     * @param box     box elements per dimension, each in [1, 256]; {@code box[0] * 2} a multiple of 16 and at most 128
     * @return the 128 bytes of the CUtensorMap
     * @throws IllegalArgumentException naming the field that breaks a limit
     * @throws IllegalStateException    when the driver entry point cannot be called
     * @throws CudaException            when the driver rejects the map
     */
    static byte[] tiledBf16(long address, long[] dims, long[] strides, int[] box) {
        int rank = dims.length;
        if (rank < 1 || rank > 5 || strides.length != rank - 1 || box.length != rank) {
            throw new IllegalArgumentException("tensor map of rank " + rank + " needs " + (rank - 1) + " strides and " + rank
                    + " box sizes, got " + strides.length + " and " + box.length);
        }
        if (address % 16 != 0) throw new IllegalArgumentException("tensor map base address 0x" + Long.toHexString(address) + " is not 16-byte aligned");
        for (int i = 0; i < rank; i++) {
            if (dims[i] < 1 || dims[i] > (1L << 32)) throw new IllegalArgumentException("tensor map dim " + i + " = " + dims[i] + " outside [1, 2^32]");
            if (box[i] < 1 || box[i] > 256) throw new IllegalArgumentException("tensor map box " + i + " = " + box[i] + " outside [1, 256]");
        }
        for (int i = 0; i < rank - 1; i++) {
            if (strides[i] % 16 != 0 || strides[i] <= 0 || strides[i] >= (1L << 40)) {
                throw new IllegalArgumentException("tensor map stride " + (i + 1) + " = " + strides[i] + " bytes is not a positive multiple of 16 below 2^40");
            }
        }
        if ((2 * box[0]) % 16 != 0 || 2 * box[0] > 128) {
            throw new IllegalArgumentException("tensor map inner box of " + box[0] + " bf16 must span a multiple of 16 bytes up to 128 (the swizzle span)");
        }
        if (Driver.ENCODE == null) throw new IllegalStateException(Driver.REASON);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment map = arena.allocate(BYTES, 128);
            MemorySegment globalDim = arena.allocateFrom(JAVA_LONG, dims);
            MemorySegment globalStrides = arena.allocate(JAVA_LONG, Math.max(1, rank - 1));
            for (int i = 0; i < rank - 1; i++) globalStrides.setAtIndex(JAVA_LONG, i, strides[i]);
            MemorySegment boxDim = arena.allocateFrom(JAVA_INT, box);
            int[] ones = new int[rank];
            java.util.Arrays.fill(ones, 1);
            MemorySegment elementStrides = arena.allocateFrom(JAVA_INT, ones);
            int r = (int) Driver.ENCODE.invokeExact(map, DATA_TYPE_BFLOAT16, rank, MemorySegment.ofAddress(address), globalDim,
                    globalStrides, boxDim, elementStrides, INTERLEAVE_NONE, SWIZZLE_128B, L2_PROMOTION_256B, OOB_FILL_NONE);
            CudaChecks.check(r, "cuTensorMapEncodeTiled(bf16, dims " + java.util.Arrays.toString(dims) + ", strides "
                    + java.util.Arrays.toString(strides) + ", box " + java.util.Arrays.toString(box) + ", swizzle 128B)");
            return map.toArray(JAVA_BYTE);
        } catch (CudaException | IllegalArgumentException | IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("calling cuTensorMapEncodeTiled failed: " + t, t);
        }
    }
}
