package dev.moe4j.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Headless Chromium for tests: finds the binary (system property {@code moe4j.chromium}, else
 * {@code chromium}, {@code chromium-browser} or {@code google-chrome} in /usr/bin or on the PATH)
 * and runs it on a local file with a fresh profile, no sandbox, no GPU and no network services.
 */
final class Chromium {
    private final Path binary;

    private Chromium(Path binary) { this.binary = binary; }

    /** The installed browser, if any. */
    static Optional<Chromium> find() {
        String prop = System.getProperty("moe4j.chromium");
        if (prop != null && !prop.isBlank()) return Files.isExecutable(Path.of(prop)) ? Optional.of(new Chromium(Path.of(prop))) : Optional.empty();
        List<Path> candidates = new ArrayList<>();
        for (String name : List.of("chromium", "chromium-browser", "google-chrome")) {
            candidates.add(Path.of("/usr/bin", name));
            String path = System.getenv("PATH");
            if (path != null) for (String dir : path.split(java.io.File.pathSeparator)) if (!dir.isEmpty()) candidates.add(Path.of(dir, name));
        }
        for (Path p : candidates) if (Files.isExecutable(p)) return Optional.of(new Chromium(p));
        return Optional.empty();
    }

    /** The binary. */
    Path binary() { return binary; }

    /** Starts the browser on {@code page} with extra arguments; stdout goes to {@code stdout}. */
    Process start(Path page, Path work, Path stdout, String... args) throws IOException {
        Path profile = Files.createTempDirectory(work, "profile-");
        List<String> cmd = new ArrayList<>(List.of(binary.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
                "--user-data-dir=" + profile));
        cmd.addAll(List.of(args));
        cmd.add(page.toUri().toString());
        return new ProcessBuilder(cmd).redirectOutput(stdout.toFile()).redirectError(work.resolve(stdout.getFileName() + ".err").toFile()).start();
    }

    /**
     * Waits for a started browser.
     *
     * @throws IllegalStateException when it runs past the timeout or fails
     */
    static void await(Process p, Path stdout, String what) throws Exception {
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("chromium did not finish " + what + " within 60 s");
        }
        if (p.exitValue() != 0) {
            Path err = stdout.resolveSibling(stdout.getFileName() + ".err");
            throw new IllegalStateException("chromium failed " + what + " (exit " + p.exitValue() + "): " + (Files.exists(err) ? Files.readString(err) : ""));
        }
    }
}
