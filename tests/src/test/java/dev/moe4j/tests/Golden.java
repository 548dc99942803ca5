package dev.moe4j.tests;

import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Finding and reading the reference files of the {@code golden.dir} folder. */
final class Golden {
    private Golden() {}

    /** The folder: system property {@code golden.dir}, else {@code ../shared/golden}. */
    static Path dir() {
        String p = System.getProperty("golden.dir");
        Path dir = p != null ? Paths.get(p) : Paths.get("..", "shared", "golden");
        assertTrue(Files.isDirectory(dir), "reference folder " + dir.toAbsolutePath() + " does not exist (set -Dgolden.dir)");
        return dir;
    }

    /** The {@code .safetensors} files of the folder whose name (without extension) ends with {@code suffix}, sorted. */
    static List<Path> files(String suffix) throws IOException {
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir())) {
            s.filter(f -> f.getFileName().toString().endsWith(suffix + ".safetensors") && Files.isRegularFile(f)).sorted().forEach(out::add);
        }
        return out;
    }

    /** The file name without {@code .safetensors}: the test's name. */
    static String name(Path file) {
        String n = file.getFileName().toString();
        return n.substring(0, n.length() - ".safetensors".length());
    }

    /** Every tensor of a file. */
    static Map<String, Tensor> load(Path file) throws IOException {
        return SafetensorsFile.load(file);
    }

    /**
     * What makes a reference tensor unusable for a float32 comparison: non-finite values, and finite
     * values beyond the float32 range. Null when the tensor is sound.
     */
    static String unsound(String name, Tensor t) {
        if (!t.dtype().isFloatingPoint()) return null;
        double[] a = t.toDoubleArray();
        int nonFinite = 0, beyond = 0;
        double max = 0;
        for (double v : a) {
            if (!Double.isFinite(v)) nonFinite++;
            else if (Math.abs(v) > Float.MAX_VALUE) beyond++;
            if (Double.isFinite(v)) max = Math.max(max, Math.abs(v));
        }
        if (nonFinite == 0 && beyond == 0) return null;
        StringBuilder b = new StringBuilder(name).append(" has ");
        if (nonFinite > 0) b.append(nonFinite).append(" non-finite values");
        if (nonFinite > 0 && beyond > 0) b.append(" and ");
        if (beyond > 0) b.append(beyond).append(" values beyond the float32 range (largest |v| = ").append(String.format("%.3g", max)).append(')');
        return b.append(" of ").append(a.length).toString();
    }

    /** Per row of a [T, ...] tensor: whether all its values are finite and within the float32 range. */
    static boolean[] soundRows(Tensor t, int rows) {
        double[] a = t.toDoubleArray();
        boolean[] ok = new boolean[rows];
        int width = rows == 0 ? 0 : a.length / rows;
        for (int r = 0; r < rows; r++) {
            ok[r] = true;
            for (int i = r * width; i < (r + 1) * width; i++) ok[r] &= Double.isFinite(a[i]) && Math.abs(a[i]) <= Float.MAX_VALUE;
        }
        return ok;
    }

    /** The rows of a [T, width] array that {@code keep} marks, concatenated. */
    static double[] rows(double[] a, boolean[] keep) {
        int width = a.length / keep.length, n = 0;
        for (boolean b : keep) if (b) n++;
        double[] out = new double[n * width];
        for (int r = 0, o = 0; r < keep.length; r++) {
            if (!keep[r]) continue;
            System.arraycopy(a, r * width, out, o, width);
            o += width;
        }
        return out;
    }

    /** ||got - want|| / ||want|| in double (||got|| when want is zero). */
    static double relativeError(double[] got, double[] want) {
        if (got.length != want.length) throw new AssertionError("lengths differ: " + got.length + " vs " + want.length);
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }
}
