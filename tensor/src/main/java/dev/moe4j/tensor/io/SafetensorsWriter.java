package dev.moe4j.tensor.io;

import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes tensors as a safetensors file (layout in {@link SafetensorsFile}).
 *
 * <ul>
 *   <li>The header lists the tensors in the map's iteration order (a {@link LinkedHashMap} keeps
 *       insertion order), {@code "__metadata__"} first when there is metadata; it is compact JSON
 *       padded with spaces to a multiple of 8 bytes, as the reference implementation writes it, so the
 *       data section starts 8-byte aligned.</li>
 *   <li>The data section is contiguous, without gaps. Tensors are placed by element size, largest
 *       first (ties in map order), so that every tensor starts at a multiple of its element size, as
 *       readers that view the mapped bytes directly expect.</li>
 *   <li>Each tensor is written in logical row-major order whatever its strides (transposed, sliced
 *       and expanded views are fine), elements little-endian; BOOL elements as bytes 0 and 1.</li>
 *   <li>The file is written to a temporary file in the target's folder, forced to disk, and then
 *       moved over the target atomically where the file system can: on any failure the target is
 *       left as it was and the temporary file is deleted.</li>
 * </ul>
 * Nothing is buffered beyond 1 MiB: tensors stream from their storage to the file.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    private static final int CHUNK_BYTES = 1 << 20;

    /** Saves {@code tensors} without metadata. See {@link #save(Path, Map, Map)}. */
    public static void save(Path path, Map<String, Tensor> tensors) throws IOException {
        save(path, tensors, Map.of());
    }

    /**
     * Saves {@code tensors} (header in the map's iteration order) and {@code metadata} to {@code path},
     * replacing any file there.
     *
     * @param metadata string pairs stored under {@code "__metadata__"}; null or empty for none
     * @throws SafetensorsException before anything is written, when a name is null or
     *         {@code "__metadata__"}, a tensor is null or not on the CPU, or a metadata key or value is null
     * @throws IOException when writing or moving the file fails (the target then stays as it was)
     */
    public static void save(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        if (path == null) throw new SafetensorsException("path is null");
        if (tensors == null) throw new SafetensorsException(path + ": tensor map is null");
        Map<String, String> meta = checkMetadata(path, metadata);

        // 1. check every tensor, then lay the data out: largest element size first, ties in map order
        List<String> names = new ArrayList<>(tensors.size());
        List<Tensor> values = new ArrayList<>(tensors.size());
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null) throw new SafetensorsException(path + ": a tensor name is null");
            if (name.equals(SafetensorsHeader.METADATA_KEY)) {
                throw new SafetensorsException(path + ": '" + name + "' is reserved for metadata and cannot name a tensor");
            }
            if (t == null) throw new SafetensorsException(path + ": tensor '" + name + "' is null");
            if (!(t.storage() instanceof CpuStorage)) {
                throw new SafetensorsException(path + ": tensor '" + name + "' is on " + t.device() + "; copy it to the CPU first");
            }
            names.add(name);
            values.add(t);
        }
        List<Integer> dataOrder = new ArrayList<>();
        for (int i = 0; i < values.size(); i++) dataOrder.add(i);
        dataOrder.sort(Comparator.comparingInt((Integer i) -> -values.get(i).dtype().byteSize()));
        TensorInfo[] infos = new TensorInfo[values.size()];
        long at = 0;
        for (int i : dataOrder) {
            Tensor t = values.get(i);
            long bytes = (long) t.numel() * t.dtype().byteSize();
            infos[i] = new TensorInfo(names.get(i), t.dtype(), t.shape(), at, at + bytes);
            at += bytes;
        }
        byte[] header = SafetensorsHeader.encode(List.of(infos), meta);

        // 2. stream into a temporary file beside the target, then move it into place
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        if (Files.isDirectory(target)) throw new IOException(target + " is a directory");
        Path tmp = null;
        FileChannel created = null;
        for (int attempt = 0; created == null; attempt++) {
            // CREATE_NEW with the default permissions (the umask applies, unlike Files.createTempFile)
            tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                created = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 16) throw e;
            }
        }
        try {
            try (FileChannel ch = created) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(header));
                Chunks out = new Chunks(ch);
                for (int i : dataOrder) out.tensor(values.get(i));
                out.flush();
                long expected = 8L + header.length + at;
                if (ch.size() != expected) {
                    throw new IOException(tmp + ": wrote " + ch.size() + " bytes, expected " + expected);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private static Map<String, String> checkMetadata(Path path, Map<String, String> metadata) {
        if (metadata == null) return Map.of();
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            if (e.getKey() == null) throw new SafetensorsException(path + ": a metadata key is null");
            if (e.getValue() == null) throw new SafetensorsException(path + ": metadata value of key '" + e.getKey() + "' is null");
            out.put(e.getKey(), e.getValue());
        }
        return out;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    /** A 1 MiB staging buffer between tensor storages and the file. */
    private static final class Chunks {
        private final FileChannel ch;
        private final byte[] buf = new byte[CHUNK_BYTES];
        private final MemorySegment seg = MemorySegment.ofArray(buf);
        private int pos;

        Chunks(FileChannel ch) { this.ch = ch; }

        /** Writes the elements of {@code t} in row-major order of its shape. */
        void tensor(Tensor t) throws IOException {
            int numel = t.numel();
            if (numel == 0) return;
            CpuStorage s = t.cpuStorage();
            Object array = s.array();
            DType dtype = t.dtype();
            if (t.isContiguous()) {               // elements offset .. offset+numel-1 in order
                run(array, dtype, t.offset(), numel);
                return;
            }
            // odometer over all dims but the last; each step writes one row of the last dim
            int[] shape = t.shape(), strides = t.strides();
            int r = shape.length;
            int rowLen = shape[r - 1], rowStride = strides[r - 1];
            int[] idx = new int[r - 1];
            int base = t.offset();
            while (true) {
                if (rowStride == 1) {
                    run(array, dtype, base, rowLen);
                } else {
                    for (int j = 0; j < rowLen; j++) run(array, dtype, base + j * rowStride, 1);
                }
                int d = r - 2;
                while (d >= 0 && ++idx[d] == shape[d]) {
                    base -= (shape[d] - 1) * strides[d];
                    idx[d] = 0;
                    d--;
                }
                if (d < 0) return;
                base += strides[d];
            }
        }

        /** Writes {@code count} consecutive elements of {@code array} from {@code index}. */
        private void run(Object array, DType dtype, int index, int count) throws IOException {
            int size = dtype.byteSize();
            while (count > 0) {
                if (buf.length - pos < size) flush();
                int k = Math.min(count, (buf.length - pos) / size);
                LittleEndian.write(array, dtype, index, seg, pos, k);
                if (dtype == DType.BOOL) {
                    for (int i = pos; i < pos + k; i++) buf[i] = (byte) (buf[i] != 0 ? 1 : 0);
                }
                pos += k * size;
                index += k;
                count -= k;
            }
        }

        void flush() throws IOException {
            writeFully(ch, ByteBuffer.wrap(buf, 0, pos));
            pos = 0;
        }
    }
}
