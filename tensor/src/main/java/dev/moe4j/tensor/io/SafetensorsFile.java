package dev.moe4j.tensor.io;

import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * A safetensors file opened for reading through a read-only memory map.
 *
 * <p>Layout of the file:
 * <pre>
 * [0, 8)          N, the header length: unsigned 64-bit little-endian
 * [8, 8+N)        header: UTF-8 JSON object (see {@link TensorInfo}), maybe padded with spaces
 * [8+N, size)     data section: each tensor's elements, row-major, little-endian
 * </pre>
 *
 * {@link #open} maps the whole file (no heap copy, any size), copies only the header bytes to the
 * heap (after checking N against the file size and a 100 MB limit), and validates the header
 * completely, so that every later {@link #tensor} call reads bytes that are known to exist.
 * {@link #tensor} copies one tensor's bytes into a new heap {@link CpuStorage} of the file's dtype;
 * the rest of the file stays on disk, paged in by the operating system as needed.
 *
 * <p>Bad content throws {@link SafetensorsException} (an {@link IllegalArgumentException}) naming the
 * file, the tensor and the rule broken; file-system failures throw {@link IOException}. The map is
 * released by {@link #close()}; a closed file throws {@link IllegalStateException}. Reads from several
 * threads at once are safe.
 */
public final class SafetensorsFile implements AutoCloseable {
    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final List<String> names;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    private SafetensorsFile(Path path, Arena arena, MemorySegment file, long dataStart, SafetensorsHeader header) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.dataStart = dataStart;
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (TensorInfo t : header.tensors) byName.put(t.name(), t);
        this.tensors = Collections.unmodifiableMap(byName);
        this.names = List.copyOf(byName.keySet());
        this.metadata = header.metadata;
    }

    /**
     * Maps {@code path} and validates its header.
     *
     * @throws SafetensorsException when the content breaks the format (file shorter than 8 bytes, header
     *         length past the end of the file or over 100 MB, bad JSON, unknown dtype, negative dims,
     *         byte ranges outside the data section, overlapping or of the wrong size, non-string metadata)
     * @throws IOException when the file cannot be opened or mapped
     */
    public static SafetensorsFile open(Path path) throws IOException {
        String source = path.toString();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsException(source + ": file of " + size + " bytes is shorter than the 8-byte header length");
            }
            Arena arena = Arena.ofShared();
            boolean ok = false;
            try {
                MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                long n = file.get(LittleEndian.U64, 0);   // unsigned on disk: negative here means >= 2^63
                if (n < 0 || n > size - 8) {
                    throw new SafetensorsException(source + ": header length " + Long.toUnsignedString(n)
                            + " reaches past the end of the file (" + size + " bytes, at most " + (size - 8) + " for the header)");
                }
                if (n > SafetensorsHeader.MAX_HEADER_BYTES) {
                    throw new SafetensorsException(source + ": header length " + n + " exceeds the limit of "
                            + SafetensorsHeader.MAX_HEADER_BYTES + " bytes");
                }
                byte[] json = file.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
                long dataStart = 8 + n;
                SafetensorsHeader header = SafetensorsHeader.parse(json, size - dataStart, source);
                SafetensorsFile f = new SafetensorsFile(path, arena, file, dataStart, header);
                ok = true;
                return f;
            } finally {
                if (!ok) arena.close();
            }
        }
    }

    /**
     * Reads every tensor of {@code path} into heap tensors, in file order, and closes the file.
     *
     * @throws SafetensorsException when the content breaks the format or a tensor exceeds
     *         {@link CpuStorage#MAX_SIZE} elements
     * @throws IOException when the file cannot be read
     */
    public static Map<String, Tensor> load(Path path) throws IOException {
        try (SafetensorsFile f = open(path)) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String name : f.names()) out.put(name, f.tensor(name));
            return out;
        }
    }

    /** The file this was opened from. */
    public Path path() { return path; }

    /** Tensor names in the order of the header. */
    public List<String> names() { return names; }

    /** True when the header has a tensor called {@code name}. */
    public boolean contains(String name) { return tensors.containsKey(name); }

    /** The {@code "__metadata__"} map of the header (empty when absent), in header order; unmodifiable. */
    public Map<String, String> metadata() { return metadata; }

    /** Dtype, shape and byte range of every tensor, in header order; unmodifiable. */
    public Map<String, TensorInfo> infos() { return tensors; }

    /**
     * Dtype, shape and byte range of {@code name}.
     *
     * @throws NoSuchElementException when the file has no such tensor
     */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new NoSuchElementException(path + ": no tensor named '" + name + "' (the file holds " + tensors.size() + " tensors)");
        }
        return t;
    }

    /** Byte offset in the file where the data section starts: 8 + header length. */
    public long dataStart() { return dataStart; }

    /**
     * Copies tensor {@code name} into a new contiguous heap tensor of the file's dtype and shape.
     * Only that tensor's bytes are read.
     *
     * @throws NoSuchElementException when the file has no such tensor
     * @throws SafetensorsException when the tensor has more than {@link CpuStorage#MAX_SIZE} elements,
     *         its shape cannot be a {@link Tensor} shape (a product of leading dims past 64 bits, only
     *         possible with a 0 dim after them), or it is BOOL and holds a byte other than 0 or 1
     * @throws IllegalStateException when the file is closed
     */
    public Tensor tensor(String name) {
        TensorInfo t = info(name);
        if (closed) throw new IllegalStateException(path + " is closed");
        long numel = t.numel();
        int[] shape = t.shape();
        long prefix = 1;
        for (int d : shape) {
            if (d != 0 && prefix > Long.MAX_VALUE / d) {
                throw new SafetensorsException(path + ": tensor '" + name + "' shape " + Shape.str(shape)
                        + " cannot be a Tensor: the product of its leading dims overflows 64 bits");
            }
            prefix *= d;
        }
        if (numel > CpuStorage.MAX_SIZE) {
            throw new SafetensorsException(path + ": tensor '" + name + "' " + t.dtype() + " " + Shape.str(t.shape()) + " has "
                    + numel + " elements, more than a heap storage holds (" + CpuStorage.MAX_SIZE + ")");
        }
        CpuStorage storage = LittleEndian.read(file, dataStart + t.dataBegin(), t.dtype(), (int) numel);
        if (t.dtype() == DType.BOOL) checkBool(storage.bytes(), name);
        return new Tensor(storage, shape, Shape.contiguousStrides(shape), 0);
    }

    private void checkBool(byte[] b, String name) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] != 0 && b[i] != 1) {
                throw new SafetensorsException(path + ": BOOL tensor '" + name + "' holds byte " + (b[i] & 0xff)
                        + " at element " + i + "; BOOL elements must be 0 or 1");
            }
        }
    }

    /** Releases the memory map. Tensors already returned stay valid (they are copies). Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }

    @Override
    public String toString() {
        return "SafetensorsFile(" + path + ", " + tensors.size() + " tensors, data at byte " + dataStart + ")";
    }
}
