package dev.moe4j.tensor.io;

import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The on-disk element layouts of safetensors: every dtype little-endian, read and written without
 * alignment requirements (a tensor may start at any byte of the file).
 */
final class LittleEndian {
    private LittleEndian() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);

    /** The layout of one element of {@code dtype} in a file. */
    static ValueLayout layout(DType dtype) {
        return switch (dtype) {
            case F64 -> ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(LE);
            case F32 -> ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
            case BF16, F16, I16 -> ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
            case I32 -> ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
            case I64 -> ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
            case I8, U8, BOOL -> ValueLayout.JAVA_BYTE;
        };
    }

    /**
     * Copies {@code count} elements of {@code dtype} starting at byte {@code byteOffset} of {@code src}
     * into a new storage (the array type {@link CpuStorage} uses for that dtype).
     */
    static CpuStorage read(MemorySegment src, long byteOffset, DType dtype, int count) {
        CpuStorage storage = CpuStorage.allocate(dtype, count);
        MemorySegment.copy(src, layout(dtype), byteOffset, storage.array(), 0, count);
        return storage;
    }

    /**
     * Copies {@code count} elements of the storage array {@code array} (any of the primitive arrays of
     * {@link CpuStorage}), from index {@code index}, to byte {@code byteOffset} of {@code dst}.
     */
    static void write(Object array, DType dtype, int index, MemorySegment dst, long byteOffset, int count) {
        MemorySegment.copy(array, index, dst, layout(dtype), byteOffset, count);
    }
}
