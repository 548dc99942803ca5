package dev.moe4j.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The training main: its report option and its answers to bad input. */
class TrainMoeTest {
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = TrainMoe.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static final String[] TINY = {"--steps", "6", "--tokens", "32", "--d", "8", "--f", "8", "--experts", "4", "--time-every", "3", "--load-every", "0"};

    static String[] tiny(String... more) {
        String[] all = new String[TINY.length + more.length];
        System.arraycopy(TINY, 0, all, 0, TINY.length);
        System.arraycopy(more, 0, all, TINY.length, more.length);
        return all;
    }

    @Test
    void writesTheReportWithEveryChart(@TempDir Path dir) throws Exception {
        Path report = dir.resolve("r/train.html");
        Result r = run(tiny("--balance", "lossfree", "--capacity-factor", "1.0", "--report", report.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("report written to " + report.toAbsolutePath(), "lossfree [", "step 6/6", "ETA");
        String html = Files.readString(report);
        for (String id : new String[] {"loss", "load-lossfree", "dropped", "entropy", "imbalance", "aux-loss", "bias-lossfree", "kernel-time"}) {
            assertThat(html).contains("data-chart=\"" + id + "\"");
        }
        assertThat(html).contains("grouped GEMM up", "Permute.permuteBackward");
    }

    @Test
    void anUnwritableReportPathIsRefusedBeforeTraining(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        Result r = run(tiny("--report", file.resolve("report.html").toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("cannot write the report to");
        assertThat(r.out()).doesNotContain("== balancing").doesNotContain("training");
        r = run(tiny("--report", dir.toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("is a directory");
    }

    @Test
    void reportNoneWritesNothingAndBadOptionsExitWithTwo(@TempDir Path dir) {
        Result r = run(tiny("--balance", "aux", "--report", "none"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).doesNotContain("report written");
        r = run(tiny("--router", "nope"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("accepted: softmax, deepseek");
        r = run(tiny("--time-every", "-1"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(run("--help").out()).contains("--report");
    }

    @Test
    void compareLeavesOutLossFreeForRoutersWithoutABiasAndLossFreeAloneIsRefused() {
        Result r = run(tiny("--router", "switch", "--k", "1", "--report", "none", "--steps", "2"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("auxiliary-loss-free phase is left out", "== balancing: none", "== balancing: aux")
                .doesNotContain("== balancing: lossfree");
        r = run(tiny("--router", "hash", "--k", "1", "--balance", "lossfree", "--report", "none"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("selection bias");
        assertThat(r.out()).doesNotContain("== balancing");
    }
}
