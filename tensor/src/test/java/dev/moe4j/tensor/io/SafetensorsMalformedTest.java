package dev.moe4j.tensor.io;

import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Each malformed file is built by hand, byte by byte, and must be refused with a message naming the problem. */
class SafetensorsMalformedTest {
    @TempDir Path dir;
    private int count;

    /** 8-byte little-endian {@code headerLength}, then {@code rest}. */
    private Path raw(long headerLength, byte[] rest) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(headerLength).put(rest);
        Path p = dir.resolve("bad" + (count++) + ".safetensors");
        Files.write(p, bb.array());
        return p;
    }

    /** A well-framed file: the header bytes of {@code json}, then {@code dataBytes} bytes of data. */
    private Path file(String json, int dataBytes) throws IOException {
        return file(json.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    private Path file(byte[] header, int dataBytes) throws IOException {
        byte[] rest = new byte[header.length + dataBytes];
        System.arraycopy(header, 0, rest, 0, header.length);
        return raw(header.length, rest);
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertRefused(Path p) {
        return assertThatThrownBy(() -> SafetensorsFile.open(p).close())
                .isInstanceOf(SafetensorsException.class)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(p.toString());
    }

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    // ------------------------------------------------------------------ framing

    @Test
    void fileShorterThanEightBytes() throws IOException {
        Path empty = dir.resolve("empty.safetensors");
        Files.write(empty, new byte[0]);
        assertRefused(empty).hasMessageContaining("file of 0 bytes is shorter than the 8-byte header length");
        Path seven = dir.resolve("seven.safetensors");
        Files.write(seven, new byte[7]);
        assertRefused(seven).hasMessageContaining("file of 7 bytes");
    }

    @Test
    void headerLengthPastTheEndOfTheFile() throws IOException {
        assertRefused(raw(1000, "{}".getBytes(StandardCharsets.US_ASCII)))
                .hasMessageContaining("header length 1000 reaches past the end of the file (10 bytes");
        assertRefused(raw(3, "{}".getBytes(StandardCharsets.US_ASCII))).hasMessageContaining("header length 3");
        assertRefused(raw(Long.MAX_VALUE, new byte[16])).hasMessageContaining("header length " + Long.MAX_VALUE);
        // all 64 bits set: 2^64 - 1 as an unsigned length, never a negative allocation
        assertRefused(raw(-1L, new byte[16])).hasMessageContaining("header length 18446744073709551615 reaches past the end");
    }

    @Test
    void headerLengthOverTheLimitIsRefusedBeforeReading() throws IOException {
        // a sparse file just big enough to hold a 100 MB + 1 header: the length is refused, nothing read
        Path p = dir.resolve("huge.safetensors");
        long n = SafetensorsHeader.MAX_HEADER_BYTES + 1;
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(8 + n);
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array());
        }
        assertRefused(p).hasMessageContaining("header length " + n + " exceeds the limit of 100000000 bytes");
    }

    // ------------------------------------------------------------------ JSON

    @Test
    void headerThatIsNotJson() throws IOException {
        assertRefused(file("{\"a\": ", 0)).hasMessageContaining("header is not valid JSON");
        assertRefused(file("{} trailing", 0)).hasMessageContaining("header is not valid JSON");
        assertRefused(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}", 8))
                .hasMessageContaining("header is not valid JSON").hasMessageContaining("Duplicate field 'x'");
        assertRefused(file(new byte[] {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'}, 0))
                .hasMessageContaining("header is not valid UTF-8");
    }

    @Test
    void headerThatIsNotAnObject() throws IOException {
        assertRefused(file("[1, 2]", 0)).hasMessageContaining("header must be a JSON object, got array");
        assertRefused(file("\"F32\"", 0)).hasMessageContaining("header must be a JSON object, got string");
        assertRefused(file("", 0)).hasMessageContaining("header must be a JSON object, got nothing");
        assertRefused(file("        ", 0)).hasMessageContaining("header must be a JSON object, got nothing");
    }

    @Test
    void entriesWithWrongFieldTypes() throws IOException {
        assertRefused(file("{\"w\": 5}", 0)).hasMessageContaining("tensor 'w': entry must be an object");
        assertRefused(file("{" + entry("w", "7", "[1]", "[0,4]") + "}", 4))
                .hasMessageContaining("tensor 'w': \"dtype\" must be a string, got 7");
        assertRefused(file("{" + entry("w", "\"F32\"", "\"3\"", "[0,12]") + "}", 12))
                .hasMessageContaining("tensor 'w': \"shape\" must be an array");
        assertRefused(file("{" + entry("w", "\"F32\"", "[2.5]", "[0,8]") + "}", 8))
                .hasMessageContaining("tensor 'w': shape dim 0 must be an integer, got 2.5");
        assertRefused(file("{" + entry("w", "\"F32\"", "[2, \"3\"]", "[0,24]") + "}", 24))
                .hasMessageContaining("tensor 'w': shape dim 1 must be an integer");
        assertRefused(file("{" + entry("w", "\"F32\"", "[1]", "{\"begin\":0}") + "}", 4))
                .hasMessageContaining("tensor 'w': \"data_offsets\" must be [begin, end]");
        assertRefused(file("{" + entry("w", "\"F32\"", "[1]", "[0]") + "}", 4))
                .hasMessageContaining("tensor 'w': \"data_offsets\" must be [begin, end], got [0]");
        assertRefused(file("{" + entry("w", "\"F32\"", "[1]", "[0,4,8]") + "}", 8))
                .hasMessageContaining("\"data_offsets\" must be [begin, end]");
        assertRefused(file("{" + entry("w", "\"F32\"", "[1]", "[0,4.0]") + "}", 4))
                .hasMessageContaining("tensor 'w': \"data_offsets\" must hold two non-negative 64-bit integers");
        assertRefused(file("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4))
                .hasMessageContaining("tensor 'w': missing field \"dtype\"");
        assertRefused(file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4))
                .hasMessageContaining("tensor 'w': missing field \"shape\"");
        assertRefused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4))
                .hasMessageContaining("tensor 'w': missing field \"data_offsets\"");
    }

    @Test
    void unknownDtypeNamesItAndTheAcceptedOnes() throws IOException {
        assertRefused(file("{" + entry("q", "\"F8_E4M3\"", "[4]", "[0,4]") + "}", 4))
                .hasMessageContaining("tensor 'q': unknown dtype 'F8_E4M3'")
                .hasMessageContaining("accepted: F64, F32, BF16, F16, I64, I32, I16, I8, U8, BOOL");
        assertRefused(file("{" + entry("q", "\"f32\"", "[1]", "[0,4]") + "}", 4))
                .hasMessageContaining("unknown dtype 'f32'");
    }

    // ------------------------------------------------------------------ shapes and ranges

    @Test
    void negativeOrOversizedDims() throws IOException {
        assertRefused(file("{" + entry("w", "\"F32\"", "[-1, 2]", "[0,0]") + "}", 0))
                .hasMessageContaining("tensor 'w': shape dim 0 is -1; dims must lie in [0, 2147483647]");
        assertRefused(file("{" + entry("w", "\"U8\"", "[3000000000]", "[0,0]") + "}", 0))
                .hasMessageContaining("shape dim 0 is 3000000000");
        assertRefused(file("{" + entry("w", "\"U8\"", "[1, 100000000000000000000000000000]", "[0,0]") + "}", 0))
                .hasMessageContaining("shape dim 1 is 100000000000000000000000000000");
    }

    @Test
    void shapeWhoseByteCountOverflows() throws IOException {
        assertRefused(file("{" + entry("w", "\"F64\"", "[2147483647, 2147483647, 2147483647]", "[0,8]") + "}", 8))
                .hasMessageContaining("tensor 'w': shape [2147483647, 2147483647, 2147483647] of F64 has more than 2^63 bytes");
        // the same dims followed by a 0 hold zero bytes: a valid header entry, but no Tensor shape
        String zero = entry("z", "\"F64\"", "[2147483647, 2147483647, 2147483647, 0]", "[0,0]") + ","
                + entry("y", "\"F64\"", "[0, 2147483647, 2147483647, 2147483647]", "[0,0]");
        try (SafetensorsFile f = SafetensorsFile.open(file("{" + zero + "}", 0))) {
            org.assertj.core.api.Assertions.assertThat(f.info("z").numel()).isZero();
            assertThatThrownBy(() -> f.tensor("z")).isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("tensor 'z' shape [2147483647, 2147483647, 2147483647, 0] cannot be a Tensor");
            org.assertj.core.api.Assertions.assertThat(f.tensor("y").shape()).containsExactly(0, 2147483647, 2147483647, 2147483647);
        }
    }

    @Test
    void dataOffsetsOutOfOrderOrOutsideTheDataSection() throws IOException {
        assertRefused(file("{" + entry("w", "\"F32\"", "[1]", "[8,4]") + "}", 8))
                .hasMessageContaining("tensor 'w': data_offsets [8, 4] has begin > end");
        assertRefused(file("{" + entry("w", "\"F32\"", "[4]", "[0,16]") + "}", 12))
                .hasMessageContaining("tensor 'w': data_offsets [0, 16] reach outside the data section of 12 bytes");
        assertRefused(file("{" + entry("w", "\"F32\"", "[1]", "[-4,0]") + "}", 8))
                .hasMessageContaining("tensor 'w': \"data_offsets\" must hold two non-negative 64-bit integers, got [-4,0]");
        assertRefused(file("{" + entry("w", "\"U8\"", "[1]", "[0,18446744073709551616]") + "}", 8))
                .hasMessageContaining("must hold two non-negative 64-bit integers");
        assertRefused(file("{" + entry("w", "\"U8\"", "[1]", "[9223372036854775806,9223372036854775807]") + "}", 8))
                .hasMessageContaining("reach outside the data section of 8 bytes");
    }

    @Test
    void overlappingTensorsAreNamed() throws IOException {
        String json = "{" + entry("a", "\"F32\"", "[4]", "[0,16]") + "," + entry("e", "\"F32\"", "[0]", "[4,4]") + ","
                + entry("b", "\"F32\"", "[4]", "[8,24]") + "}";
        assertRefused(file(json, 24)).hasMessageContaining("tensors 'a' [0, 16) and 'b' [8, 24) overlap");
        // the same bytes claimed twice
        String twice = "{" + entry("x", "\"I32\"", "[2]", "[0,8]") + "," + entry("y", "\"U8\"", "[8]", "[0,8]") + "}";
        assertRefused(file(twice, 8)).hasMessageContaining("overlap").hasMessageContaining("'x'").hasMessageContaining("'y'");
    }

    @Test
    void byteCountMustEqualNumelTimesDtypeSize() throws IOException {
        assertRefused(file("{" + entry("w", "\"F32\"", "[2, 2]", "[0,12]") + "}", 16))
                .hasMessageContaining("tensor 'w': data_offsets [0, 12] hold 12 bytes, but shape [2, 2] of F32 needs 16 (numel 4 * 4)");
        assertRefused(file("{" + entry("s", "\"BF16\"", "[]", "[0,0]") + "}", 4))
                .hasMessageContaining("tensor 's': data_offsets [0, 0] hold 0 bytes, but shape [] of BF16 needs 2");
        assertRefused(file("{" + entry("m", "\"BOOL\"", "[3]", "[0,1]") + "}", 4))
                .hasMessageContaining("shape [3] of BOOL needs 3");
    }

    // ------------------------------------------------------------------ metadata and values

    @Test
    void metadataValuesMustBeStrings() throws IOException {
        assertRefused(file("{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}", 0))
                .hasMessageContaining("metadata value of key 'n' must be a string, got number 1");
        assertRefused(file("{\"__metadata__\":{\"cfg\":{\"a\":1}}}", 0))
                .hasMessageContaining("metadata value of key 'cfg' must be a string, got object");
        assertRefused(file("{\"__metadata__\":[\"pt\"]}", 0))
                .hasMessageContaining("\"__metadata__\" must be an object of string values, got array");
    }

    @Test
    void boolBytesOtherThanZeroOrOneAreRefusedOnRead() throws IOException {
        String json = "{" + entry("mask", "\"BOOL\"", "[3]", "[0,3]") + "}";
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        byte[] rest = new byte[h.length + 3];
        System.arraycopy(h, 0, rest, 0, h.length);
        rest[h.length] = 1;
        rest[h.length + 2] = 2;
        Path p = raw(h.length, rest);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThatThrownBy(() -> f.tensor("mask")).isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("BOOL tensor 'mask' holds byte 2 at element 2");
        }
    }
}
