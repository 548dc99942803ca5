package dev.moe4j.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The progress bar on a terminal and in a log, with a clock the test moves. */
class ProgressBarTest {
    long now;
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    ProgressBar bar(boolean interactive, long steps, double seconds) {
        return new ProgressBar("run", steps, seconds, out, interactive, 1.0, () -> now);
    }

    String text() { return bytes.toString(StandardCharsets.UTF_8); }

    @Test
    void plainLinesAtMostOncePerInterval() {
        ProgressBar b = bar(false, 100, 0);
        for (int step = 1; step <= 30; step++) {
            now += 100_000_000;                                          // 0.1 s per step
            b.update(step, 0.5, 1000, "");
        }
        b.finish(30, 0.25, 1000, "done");
        String[] lines = text().split("\n");
        assertThat(lines).hasSize(1 + 2 + 1);                            // step 1, then steps 11 and 21 (one per second), the final line
        assertThat(lines[1]).contains("step 11/100");
        assertThat(lines[2]).contains("step 21/100");
        assertThat(text()).doesNotContain("\r").doesNotContain("\033");
        assertThat(lines[0]).startsWith("run [").contains("step 1/100", "loss 0.50000", "1,000 tok/s");
        assertThat(lines[lines.length - 1]).contains("step 30/100", " 30%", "| done");
    }

    @Test
    void terminalRedrawsInPlaceAndKeepsMessagesAbove() {
        ProgressBar b = bar(true, 10, 0);
        now = 1_000_000_000;
        b.update(5, 1.0, 10, "x");
        b.println("a message");
        b.finish(10, 0.5, 10, "");
        String t = text();
        assertThat(t).startsWith("\rrun [############............]  50% | step 5/10");
        assertThat(t).contains("\033[K\n");
        assertThat(t).contains("\r\033[Ka message\nrun [");
        assertThat(t).endsWith("\033[K\n");
        assertThat(b.interactive()).isTrue();
    }

    @Test
    void estimatesTheTimeLeft() {
        ProgressBar steps = bar(false, 100, 0);
        assertThat(steps.line(25, Double.NaN, Double.NaN, "", 10)).contains(" 25%", "ETA 0:30").doesNotContain("loss").doesNotContain("tok/s");
        ProgressBar time = bar(false, 0, 60);
        assertThat(time.line(7, 0.1, 5, "", 45)).contains(" 75%", "step 7 |", "ETA 0:15");
        assertThat(ProgressBar.clock(3725)).isEqualTo("1:02:05");
        assertThat(ProgressBar.clock(Double.NaN)).isEqualTo("?");
        assertThatThrownBy(() -> bar(false, 0, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
