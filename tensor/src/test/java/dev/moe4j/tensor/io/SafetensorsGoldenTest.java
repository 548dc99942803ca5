package dev.moe4j.tensor.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Reads every {@code *.safetensors} file of the reference data folder (written by the Python
 * safetensors library), including the PEFT adapter folders, and writes each back out.
 */
class SafetensorsGoldenTest {
    @TempDir Path tmp;

    /** {@code golden.dir} when set and present, else {@code ../shared/golden} or {@code ../../shared/golden}. */
    static Path goldenDir() {
        List<Path> candidates = new ArrayList<>();
        String prop = System.getProperty("golden.dir");
        if (prop != null && !prop.isBlank()) candidates.add(Path.of(prop));
        candidates.add(Path.of("..", "shared", "golden"));
        candidates.add(Path.of("..", "..", "shared", "golden"));
        for (Path c : candidates) {
            if (Files.isDirectory(c)) return c.toAbsolutePath().normalize();
        }
        return fail("reference data folder not found; tried " + candidates.stream().map(c -> c.toAbsolutePath().normalize().toString()).toList()
                + " (set -Dgolden.dir=...)");
    }

    static List<Path> goldenFiles() throws IOException {
        try (Stream<Path> s = Files.walk(goldenDir())) {
            return s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        }
    }

    @Test
    void everyReferenceFileReads() throws IOException {
        List<Path> files = goldenFiles();
        assertThat(files).as("reference safetensors files").isNotEmpty();
        assertThat(files).as("adapter folders").anyMatch(p -> p.getFileName().toString().equals("adapter_model.safetensors"));
        ObjectMapper json = new ObjectMapper();
        for (Path p : files) {
            long fileSize = Files.size(p);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                assertThat(f.names()).as(p + " tensors").isNotEmpty();
                assertThat(f.metadata()).as(p + " metadata").isNotEmpty();
                JsonNode config = f.metadata().containsKey("config") ? json.readTree(f.metadata().get("config")) : null;
                if (config != null) assertThat(config.isObject()).as(p + " config metadata is a JSON object").isTrue();
                long bytes = 0;
                for (String name : f.names()) {
                    TensorInfo info = f.info(name);
                    Tensor t = f.tensor(name);
                    long product = 1;
                    for (int d : info.shape()) product *= d;
                    assertThat(t.numel()).as(p + " " + name + " numel").isEqualTo(product).isEqualTo(info.numel());
                    assertThat(t.shape()).isEqualTo(info.shape());
                    assertThat(t.dtype()).isEqualTo(info.dtype());
                    assertThat(t.cpuStorage().size()).isEqualTo(t.numel());
                    assertThat(info.byteSize()).isEqualTo(product * info.dtype().byteSize());
                    assertThat(f.dataStart() + info.dataEnd()).isLessThanOrEqualTo(fileSize);
                    bytes += info.byteSize();
                }
                assertThat(f.dataStart() + bytes).as(p + ": tensors cover the data section").isEqualTo(fileSize);
            }
        }
    }

    @Test
    void everyReferenceFileSurvivesARewriteByteForByte() throws IOException {
        for (Path p : goldenFiles()) {
            Map<String, Tensor> tensors = SafetensorsFile.load(p);
            Path copy = tmp.resolve("copy.safetensors");
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                SafetensorsWriter.save(copy, tensors, f.metadata());
                try (SafetensorsFile g = SafetensorsFile.open(copy)) {
                    assertThat(g.names()).as(p.toString()).containsExactlyElementsOf(f.names());
                    assertThat(g.metadata()).containsExactlyEntriesOf(f.metadata());
                    for (String name : f.names()) {
                        assertThat(g.info(name).shape()).isEqualTo(f.info(name).shape());
                        assertThat(g.info(name).dtype()).isEqualTo(f.info(name).dtype());
                        // the raw element bytes are identical in both files, read without the library
                        assertThat(rawBytes(copy, g.dataStart(), g.info(name)))
                                .as(p + " " + name).isEqualTo(rawBytes(p, f.dataStart(), f.info(name)));
                    }
                }
            }
        }
    }

    private static byte[] rawBytes(Path p, long dataStart, TensorInfo info) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) info.byteSize());
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long at = dataStart + info.dataBegin();
            while (b.hasRemaining()) {
                int r = ch.read(b, at + b.position());
                if (r < 0) throw new IOException("unexpected end of " + p);
            }
        }
        return b.array();
    }
}
