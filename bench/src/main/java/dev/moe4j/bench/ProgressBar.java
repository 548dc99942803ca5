package dev.moe4j.bench;

import java.io.Console;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A progress line for training and long benchmarks: a bar, the step, the loss, the throughput in
 * tokens per second and the estimated time left.
 *
 * <pre>
 *   aux [##########..............]  42% | step 1260/3000 | loss 0.01873 | 51,203 tok/s | ETA 0:34 | load max/mean 1.21
 * </pre>
 * On a terminal the line is redrawn in place (carriage return, at most ten times a second). When
 * the output is not a terminal (no console, a console that is not a terminal, or {@code TERM=dumb})
 * it degrades to plain lines, one per {@code plainEvery} seconds, so that logs stay readable.
 * Progress is measured in steps when the total is known, else in seconds of a time budget.
 */
public final class ProgressBar {
    private static final int WIDTH = 24;

    private final String label;
    private final long totalSteps;
    private final double totalSeconds;
    private final PrintStream out;
    private final boolean interactive;
    private final LongSupplier clock;
    private final double plainEvery;
    private final long start;
    private long lastDraw = Long.MIN_VALUE;
    private String lastLine = "";
    private boolean drawn;

    /**
     * @param label        a short name printed first
     * @param totalSteps   the number of steps, or 0 when the run is limited by time
     * @param totalSeconds the time budget when {@code totalSteps} is 0
     * @param out          where to draw
     * @param interactive  redraw in place (a terminal) or print plain lines
     * @param plainEvery   seconds between plain lines
     * @param clock        nanosecond clock
     * @throws IllegalArgumentException when neither a step count nor a positive time budget is given
     */
    public ProgressBar(String label, long totalSteps, double totalSeconds, PrintStream out, boolean interactive, double plainEvery, LongSupplier clock) {
        if (totalSteps <= 0 && !(totalSeconds > 0)) throw new IllegalArgumentException("a progress bar needs a step count or a time budget");
        this.label = label;
        this.totalSteps = totalSteps;
        this.totalSeconds = totalSeconds;
        this.out = out;
        this.interactive = interactive;
        this.plainEvery = plainEvery;
        this.clock = clock;
        this.start = clock.getAsLong();
    }

    /** A bar on standard output counting {@code totalSteps} steps (or {@code seconds} when steps is 0). */
    public static ProgressBar onStdout(String label, long totalSteps, double seconds) {
        return new ProgressBar(label, totalSteps, seconds, System.out, isTerminal(), 1.0, System::nanoTime);
    }

    /** Whether standard output is a terminal that can redraw a line: a console that is a terminal, and TERM is not "dumb". */
    public static boolean isTerminal() {
        Console c = System.console();
        return c != null && c.isTerminal() && !"dumb".equals(System.getenv("TERM"));
    }

    /** Whether this bar redraws in place. */
    public boolean interactive() { return interactive; }

    /**
     * Reports progress: draws the line when due (always for the first step).
     *
     * @param step            steps done
     * @param loss            the current loss (NaN: not shown)
     * @param tokensPerSecond throughput (NaN: not shown)
     * @param extra           more text for the end of the line (may be empty)
     */
    public void update(long step, double loss, double tokensPerSecond, String extra) {
        long now = clock.getAsLong();
        double dueEvery = interactive ? 0.1 : plainEvery;
        if (drawn && (now - lastDraw) / 1e9 < dueEvery) return;
        lastDraw = now;
        lastLine = line(step, loss, tokensPerSecond, extra, (now - start) / 1e9);
        if (interactive) out.print("\r" + lastLine + "\033[K");
        else out.println(lastLine);
        out.flush();
        drawn = true;
    }

    /** Prints a message on its own line(s) without breaking the bar: the bar is redrawn under it. */
    public void println(String text) {
        if (interactive && drawn) {
            out.print("\r\033[K");
            out.print(text.endsWith("\n") ? text : text + "\n");
            out.print(lastLine);
        } else {
            out.print(text.endsWith("\n") ? text : text + "\n");
        }
        out.flush();
    }

    /** Draws the final state and ends the line. */
    public void finish(long step, double loss, double tokensPerSecond, String extra) {
        lastLine = line(step, loss, tokensPerSecond, extra, (clock.getAsLong() - start) / 1e9);
        if (interactive) out.print("\r" + lastLine + "\033[K\n");
        else out.println(lastLine);
        out.flush();
        drawn = false;
    }

    /** The progress line for the given state (elapsed in seconds). */
    String line(long step, double loss, double tokensPerSecond, String extra, double elapsed) {
        double fraction;
        double eta;
        if (totalSteps > 0) {
            fraction = Math.min(1, (double) step / totalSteps);
            eta = step == 0 ? Double.NaN : elapsed / step * Math.max(0, totalSteps - step);
        } else {
            fraction = Math.min(1, elapsed / totalSeconds);
            eta = Math.max(0, totalSeconds - elapsed);
        }
        int filled = (int) Math.round(fraction * WIDTH);
        StringBuilder b = new StringBuilder();
        b.append(label).append(" [").append("#".repeat(filled)).append(".".repeat(WIDTH - filled)).append("] ")
                .append(String.format(Locale.ROOT, "%3d%%", (int) Math.floor(fraction * 100)));
        b.append(" | step ").append(step);
        if (totalSteps > 0) b.append('/').append(totalSteps);
        if (!Double.isNaN(loss)) b.append(String.format(Locale.ROOT, " | loss %.5g", loss));
        if (!Double.isNaN(tokensPerSecond)) b.append(String.format(Locale.ROOT, " | %,.0f tok/s", tokensPerSecond));
        b.append(" | ETA ").append(clock(eta));
        if (extra != null && !extra.isEmpty()) b.append(" | ").append(extra);
        return b.toString();
    }

    /** Seconds as m:ss (or h:mm:ss); "?" when unknown. */
    static String clock(double seconds) {
        if (!Double.isFinite(seconds)) return "?";
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
