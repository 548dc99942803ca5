package dev.moe4j.tensor.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsRoundTripTest {
    @TempDir Path dir;

    private static void assertSameTensor(Tensor got, Tensor want, String name) {
        assertThat(got.dtype()).as(name + " dtype").isEqualTo(want.dtype());
        assertThat(got.shape()).as(name + " shape").isEqualTo(want.shape());
        assertThat(got.strides()).as(name + " strides").isEqualTo(Shape.contiguousStrides(got.shape()));
        assertThat(got.offset()).as(name + " offset").isZero();
        assertThat(got.cpuStorage().size()).as(name + " storage size").isEqualTo(want.numel());
        assertThat(TensorBits.logical(got)).as(name + " elements").isEqualTo(TensorBits.logical(want));
    }

    private Map<String, Tensor> roundTrip(Map<String, Tensor> tensors, Map<String, String> meta) throws IOException {
        Path p = dir.resolve("t.safetensors");
        SafetensorsWriter.save(p, tensors, meta);
        Map<String, Tensor> back = SafetensorsFile.load(p);
        assertThat(back.keySet()).containsExactlyElementsOf(tensors.keySet());
        for (String name : tensors.keySet()) assertSameTensor(back.get(name), tensors.get(name), name);
        return back;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void everyDtypeRoundTripsBitExactly(DType dtype) throws IOException {
        Random rnd = new Random(11 + dtype.ordinal());
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("matrix", TensorBits.random(rnd, dtype, 3, 5));
        m.put("vector_odd", TensorBits.random(rnd, dtype, 7));
        m.put("cube", TensorBits.random(rnd, dtype, 2, 3, 4));
        m.put("one", TensorBits.random(rnd, dtype, 1));
        m.put("empty", TensorBits.random(rnd, dtype, 0));
        m.put("empty_middle", TensorBits.random(rnd, dtype, 2, 0, 3));
        m.put("scalar", TensorBits.random(rnd, dtype));
        roundTrip(m, null);
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("t.safetensors"))) {
            assertThat(f.info("scalar").shape()).isEmpty();
            assertThat(f.info("scalar").numel()).isEqualTo(1);
            assertThat(f.info("scalar").byteSize()).isEqualTo(dtype.byteSize());
            assertThat(f.info("empty_middle").byteSize()).isZero();
            assertThat(f.info("cube").byteSize()).isEqualTo(24L * dtype.byteSize());
        }
    }

    @Test
    void halfPrecisionBitPatternsSurvive() throws IOException {
        short[] bf16 = {0x3F80, (short) 0xBF80, 0x7F80, (short) 0xFF80, 0x7FC0, 0x7F81, (short) 0xFFFF, (short) 0x8000, 0x0000, 0x0001, 0x7F7F, 0x4049};
        short[] f16 = {0x3C00, (short) 0xBC00, 0x7C00, (short) 0xFC00, 0x7E00, 0x7C01, (short) 0xFFFF, (short) 0x8000, 0x0000, 0x0001, 0x7BFF, 0x4248};
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("bf16", new Tensor(CpuStorage.ofShorts(DType.BF16, bf16), new int[] {3, 4}, new int[] {4, 1}, 0));
        m.put("f16", new Tensor(CpuStorage.ofShorts(DType.F16, f16), new int[] {12}, new int[] {1}, 0));
        Map<String, Tensor> back = roundTrip(m, null);
        assertThat(back.get("bf16").cpuStorage().shorts()).containsExactly(bf16);
        assertThat(back.get("f16").cpuStorage().shorts()).containsExactly(f16);
        CpuStorage b = back.get("bf16").cpuStorage(), h = back.get("f16").cpuStorage();
        assertThat(b.getDouble(0)).isEqualTo(1.0);
        assertThat(b.getDouble(1)).isEqualTo(-1.0);
        assertThat(b.getDouble(2)).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(b.getDouble(4)).isNaN();
        assertThat(b.getDouble(11)).isEqualTo(3.140625);
        assertThat(h.getDouble(0)).isEqualTo(1.0);
        assertThat(h.getDouble(3)).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(h.getDouble(9)).isEqualTo(Math.pow(2, -24));
        assertThat(h.getDouble(10)).isEqualTo(65504.0);
        assertThat(h.getDouble(11)).isEqualTo(3.140625);
    }

    @Test
    void boolAndUnsignedBytesKeepTheirMeaning() throws IOException {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("mask", Tensor.of(new boolean[] {true, false, false, true, true, false}, 2, 3));
        m.put("u8", new Tensor(CpuStorage.ofBytes(DType.U8, new byte[] {0, 1, (byte) 200, (byte) 255}), new int[] {4}, new int[] {1}, 0));
        m.put("i8", new Tensor(CpuStorage.ofBytes(DType.I8, new byte[] {-128, -1, 0, 127}), new int[] {4}, new int[] {1}, 0));
        Map<String, Tensor> back = roundTrip(m, null);
        assertThat(back.get("mask").cpuStorage().bytes()).containsExactly(1, 0, 0, 1, 1, 0);
        CpuStorage u8 = back.get("u8").cpuStorage();
        assertThat(new long[] {u8.getLong(0), u8.getLong(1), u8.getLong(2), u8.getLong(3)}).containsExactly(0, 1, 200, 255);
        CpuStorage i8 = back.get("i8").cpuStorage();
        assertThat(new long[] {i8.getLong(0), i8.getLong(1), i8.getLong(2), i8.getLong(3)}).containsExactly(-128, -1, 0, 127);
    }

    @Test
    void boolStorageWithNonCanonicalBytesIsWrittenAsZeroOne() throws IOException {
        Tensor mask = new Tensor(CpuStorage.ofBytes(DType.BOOL, new byte[] {0, 5, (byte) 0xff, 1}), new int[] {4}, new int[] {1}, 0);
        Path p = dir.resolve("b.safetensors");
        SafetensorsWriter.save(p, Map.of("m", mask));
        assertThat(SafetensorsFile.load(p).get("m").cpuStorage().bytes()).containsExactly(0, 1, 1, 1);
    }

    @Test
    void nonContiguousViewsAreWrittenInLogicalOrder() throws IOException {
        Random rnd = new Random(5);
        Tensor base = TensorBits.random(rnd, DType.F32, 4, 6);
        Tensor cube = TensorBits.random(rnd, DType.I64, 3, 4, 5);
        Tensor half = TensorBits.random(rnd, DType.BF16, 5, 7);
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("transposed", base.transpose(0, 1));
        m.put("strided_slice", base.slice(1, 1, 6, 2));
        m.put("rows_with_offset", base.narrow(0, 1, 2));          // contiguous, offset 6
        m.put("column", base.select(1, 3));                        // stride 6
        m.put("broadcast", base.select(0, 2).unsqueeze(0).expand(3, 6)); // stride 0
        m.put("permuted", cube.permute(2, 0, 1));
        m.put("narrow_permuted", cube.narrow(1, 1, 2).permute(1, 2, 0));
        m.put("half_transposed", half.mT());
        m.put("scalar_view", base.select(0, 3).select(0, 5));     // 0-dim at offset 23
        m.put("empty_view", base.narrow(0, 2, 0));
        for (Map.Entry<String, Tensor> e : m.entrySet()) {
            if (!e.getKey().equals("rows_with_offset") && !e.getKey().equals("scalar_view") && !e.getKey().equals("empty_view")) {
                assertThat(e.getValue().isContiguous()).as(e.getKey()).isFalse();
            }
        }
        roundTrip(m, Map.of());
    }

    @Test
    void tensorsLargerThanTheStagingBufferStream() throws IOException {
        Random rnd = new Random(9);
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("big_f64", TensorBits.random(rnd, DType.F64, 150_001));          // 1.2 MB, odd size
        m.put("big_transposed", TensorBits.random(rnd, DType.F32, 613, 509).mT()); // 1.25 MB, strided
        m.put("big_bf16_rows", TensorBits.random(rnd, DType.BF16, 1001, 601).slice(0, 0, 1001, 2)); // row gaps
        roundTrip(m, null);
    }

    @Test
    void metadataRoundTripsInOrder() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("zeta", "last key first");
        meta.put("config", "{\"hidden_size\": 32, \"num_experts\": 4}");
        meta.put("quotes \" and \\ backslash", "line\nbreak\ttab \u0001 control");
        meta.put("unicode \u00e9\u4e2d", "\ud83d\ude00 emoji");
        meta.put("", "");
        Path p = dir.resolve("m.safetensors");
        SafetensorsWriter.save(p, Map.of("x", Tensor.of(new float[] {1, 2}, 2)), meta);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.metadata()).containsExactlyEntriesOf(meta);
            assertThat(f.names()).containsExactly("x");
        }
    }

    @Test
    void noMetadataReadsAsEmptyAndIsNotWritten() throws IOException {
        Path p = dir.resolve("n.safetensors");
        SafetensorsWriter.save(p, Map.of("x", Tensor.of(new int[] {1}, 1)), Map.of());
        assertThat(headerText(p)).doesNotContain("__metadata__");
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.metadata()).isEmpty();
        }
    }

    @Test
    void insertionOrderIsKeptAndDataIsContiguousAlignedAndLittleEndian() throws IOException {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("z_mask", Tensor.of(new boolean[] {true, false, true}, 3));            // 3 bytes
        m.put("a_half", new Tensor(CpuStorage.ofShorts(DType.F16, new short[] {0x3C00}), new int[] {1}, new int[] {1}, 0));
        m.put("m_float", Tensor.of(new float[] {1.0f, -2.0f}, 2));
        m.put("b_long", Tensor.of(new long[] {0x0102030405060708L}, 1));
        m.put("e_empty", Tensor.zeros(DType.F64, 0, 4));
        Map<String, String> meta = Map.of("format", "pt");
        Path p = dir.resolve("order.safetensors");
        SafetensorsWriter.save(p, m, meta);

        byte[] bytes = Files.readAllBytes(p);
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong(0);
        assertThat(n % 8).as("header length padded to 8").isZero();
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        String trimmed = header.stripTrailing();
        assertThat(trimmed).endsWith("}");
        assertThat(header.length() - trimmed.length()).as("padding").isLessThan(8);
        assertThat(header.substring(trimmed.length())).matches(" *");

        JsonNode root = new ObjectMapper().readTree(trimmed);
        List<String> keys = new ArrayList<>();
        root.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).containsExactly("__metadata__", "z_mask", "a_half", "m_float", "b_long", "e_empty");

        // data ranges: contiguous from 0, cover the data section exactly, each aligned to its element size
        long dataSize = bytes.length - 8 - n;
        List<long[]> ranges = new ArrayList<>();
        for (String k : keys.subList(1, keys.size())) {
            JsonNode off = root.get(k).get("data_offsets");
            long b = off.get(0).asLong(), e = off.get(1).asLong();
            int size = DType.fromSafetensorsName(root.get(k).get("dtype").asText()).byteSize();
            assertThat(b % size).as(k + " aligned").isZero();
            ranges.add(new long[] {b, e});
        }
        ranges.sort((x, y) -> x[0] != y[0] ? Long.compare(x[0], y[0]) : Long.compare(x[1], y[1]));
        long at = 0;
        for (long[] r : ranges) {
            assertThat(r[0]).isEqualTo(at);
            at = r[1];
        }
        assertThat(at).isEqualTo(dataSize);

        // little-endian bytes on disk
        long dataStart = 8 + n;
        long floatAt = dataStart + root.get("m_float").get("data_offsets").get(0).asLong();
        assertThat(java.util.Arrays.copyOfRange(bytes, (int) floatAt, (int) floatAt + 8))
                .containsExactly(0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0);
        long longAt = dataStart + root.get("b_long").get("data_offsets").get(0).asLong();
        assertThat(java.util.Arrays.copyOfRange(bytes, (int) longAt, (int) longAt + 8)).containsExactly(8, 7, 6, 5, 4, 3, 2, 1);
        long halfAt = dataStart + root.get("a_half").get("data_offsets").get(0).asLong();
        assertThat(java.util.Arrays.copyOfRange(bytes, (int) halfAt, (int) halfAt + 2)).containsExactly(0x00, 0x3C);

        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.names()).containsExactly("z_mask", "a_half", "m_float", "b_long", "e_empty");
            assertThat(f.dataStart()).isEqualTo(dataStart);
            TensorInfo info = f.info("m_float");
            assertThat(info.dtype()).isEqualTo(DType.F32);
            assertThat(info.shape()).containsExactly(2);
            assertThat(info.byteSize()).isEqualTo(8);
            assertThat(info.dataBegin()).isEqualTo(floatAt - dataStart);
            assertThat(f.infos().keySet()).containsExactlyElementsOf(f.names());
            assertThat(f.contains("b_long")).isTrue();
            assertThat(f.contains("nope")).isFalse();
        }
    }

    @Test
    void readsHandWrittenFilesWithGapsOddHeaderLengthAndShuffledOffsets() throws IOException {
        // header not padded (length 7 mod 8), data in the reverse order of the header, a 3-byte gap
        String json = "{\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[7,15]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},"
                + "\"c\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[3,3]}}";
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer bb = ByteBuffer.allocate(8 + h.length + 15).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(h.length).put(h);
        bb.put((byte) 42).put(new byte[6]);
        bb.putInt(-7).putInt(123456789);
        Path p = dir.resolve("hand.safetensors");
        Files.write(p, bb.array());
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.names()).containsExactly("b", "a", "c");
            assertThat(f.tensor("b").cpuStorage().ints()).containsExactly(-7, 123456789);
            Tensor a = f.tensor("a");
            assertThat(a.rank()).isZero();
            assertThat(a.cpuStorage().getLong(0)).isEqualTo(42);
            assertThat(f.tensor("c").shape()).containsExactly(0);
        }
    }

    @Test
    void saveReplacesAnExistingFile() throws IOException {
        Path p = dir.resolve("r.safetensors");
        SafetensorsWriter.save(p, Map.of("old", Tensor.of(new float[] {1, 2, 3}, 3)));
        SafetensorsWriter.save(p, Map.of("new", Tensor.of(new double[] {4}, 1)), Map.of("v", "2"));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.names()).containsExactly("new");
            assertThat(f.metadata()).containsEntry("v", "2");
            assertThat(f.tensor("new").cpuStorage().doubles()).containsExactly(4.0);
        }
        assertThat(listDir()).containsExactly("r.safetensors");
    }

    @Test
    void aRejectedSaveLeavesTheTargetUntouched() throws IOException {
        Path p = dir.resolve("keep.safetensors");
        SafetensorsWriter.save(p, Map.of("w", Tensor.of(new float[] {1, 2}, 2)));
        byte[] before = Files.readAllBytes(p);

        Map<String, Tensor> reserved = new LinkedHashMap<>();
        reserved.put("ok", Tensor.of(new float[] {3}, 1));
        reserved.put("__metadata__", Tensor.of(new float[] {4}, 1));
        assertThatThrownBy(() -> SafetensorsWriter.save(p, reserved))
                .isInstanceOf(SafetensorsException.class).hasMessageContaining("'__metadata__' is reserved");

        Map<String, Tensor> withNull = new LinkedHashMap<>();
        withNull.put("gone", null);
        assertThatThrownBy(() -> SafetensorsWriter.save(p, withNull))
                .isInstanceOf(SafetensorsException.class).hasMessageContaining("tensor 'gone' is null");

        Map<String, String> badMeta = new LinkedHashMap<>();
        badMeta.put("k", null);
        assertThatThrownBy(() -> SafetensorsWriter.save(p, Map.of("w", Tensor.of(new float[] {5}, 1)), badMeta))
                .isInstanceOf(SafetensorsException.class).hasMessageContaining("metadata value of key 'k' is null");

        assertThat(Files.readAllBytes(p)).isEqualTo(before);
        assertThat(listDir()).containsExactly("keep.safetensors");
    }

    @Test
    void saveIntoAMissingFolderFailsWithoutLeavingFiles() {
        Path p = dir.resolve("no_such_dir").resolve("x.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.save(p, Map.of("w", Tensor.of(new float[] {1}, 1))))
                .isInstanceOf(IOException.class);
        assertThat(Files.exists(p.getParent())).isFalse();
    }

    @Test
    void lookupErrorsAndClosedFile() throws IOException {
        Path p = dir.resolve("c.safetensors");
        SafetensorsWriter.save(p, Map.of("w", Tensor.of(new float[] {1}, 1)));
        SafetensorsFile f = SafetensorsFile.open(p);
        assertThatThrownBy(() -> f.info("missing")).isInstanceOf(NoSuchElementException.class).hasMessageContaining("'missing'");
        assertThatThrownBy(() -> f.tensor("missing")).isInstanceOf(NoSuchElementException.class);
        Tensor w = f.tensor("w");
        f.close();
        f.close(); // idempotent
        assertThat(w.cpuStorage().floats()).containsExactly(1f);   // copies stay valid
        assertThatThrownBy(() -> f.tensor("w")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(f.info("w").numel()).isEqualTo(1);              // the header stays readable
    }

    @Test
    void tensorInfoRejectsInconsistentFields() {
        assertThatThrownBy(() -> new TensorInfo("t", DType.F32, new int[] {2}, 0, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 8");
        assertThatThrownBy(() -> new TensorInfo("t", DType.F32, new int[] {-2}, 0, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative dim");
        TensorInfo ok = new TensorInfo("t", DType.I16, new int[] {3, 2}, 10, 22);
        assertThat(ok.numel()).isEqualTo(6);
        assertThat(ok).isEqualTo(new TensorInfo("t", DType.I16, new int[] {3, 2}, 10, 22));
        assertThat(ok.toString()).contains("I16").contains("[3, 2]");
        assertThat(Shape.numel(ok.shape())).isEqualTo(6);
    }

    private List<String> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(x -> x.getFileName().toString()).sorted().toList();
        }
    }

    private static String headerText(Path p) throws IOException {
        byte[] bytes = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    }
}
