package dev.moe4j.bench.insight;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Wall-clock times of the stages of one or more passes, forward and backward, in the order the
 * stages ran. {@link #add(StageTimes)} sums passes stage by stage, so that averages over many
 * passes can be reported with {@link #meanMillis}.
 */
public final class StageTimes {
    /**
     * One stage's time.
     *
     * @param stage    the stage ({@code "permute"}, {@code "grouped GEMM up"}, ...)
     * @param kernel   the kernel or function that does the work
     * @param backward whether it is a backward stage
     * @param nanos    wall-clock nanoseconds (summed over {@code passes} passes)
     */
    public record StageTime(String stage, String kernel, boolean backward, long nanos) {}

    private final Map<String, StageTime> byKey = new LinkedHashMap<>();
    private int passes;

    /** Empty times (0 passes). */
    public StageTimes() {}

    /** Records one stage of the current pass (adds to what is there). Returns this. */
    public StageTimes record(String stage, String kernel, boolean backward, long nanos) {
        String key = (backward ? "B:" : "F:") + stage;
        StageTime old = byKey.get(key);
        byKey.put(key, new StageTime(stage, kernel, backward, (old == null ? 0 : old.nanos()) + nanos));
        passes = Math.max(passes, 1);
        return this;
    }

    /** Adds another pass's (or passes') times stage by stage. Returns this. */
    public StageTimes add(StageTimes other) {
        int mine = passes;
        for (StageTime t : other.byKey.values()) {
            String key = (t.backward() ? "B:" : "F:") + t.stage();
            StageTime old = byKey.get(key);
            byKey.put(key, new StageTime(t.stage(), t.kernel(), t.backward(), (old == null ? 0 : old.nanos()) + t.nanos()));
        }
        passes = mine + other.passes;
        return this;
    }

    /** The number of passes summed. */
    public int passes() { return passes; }

    /** The stages, forward ones first, each in the order it first ran. */
    public List<StageTime> stages() {
        List<StageTime> out = new ArrayList<>();
        for (StageTime t : byKey.values()) if (!t.backward()) out.add(t);
        for (StageTime t : byKey.values()) if (t.backward()) out.add(t);
        return Collections.unmodifiableList(out);
    }

    /** Mean milliseconds per pass of a stage time. */
    public double meanMillis(StageTime t) {
        return passes == 0 ? 0 : t.nanos() / 1e6 / passes;
    }

    /** Total nanoseconds of the forward or backward stages. */
    public long total(boolean backward) {
        long s = 0;
        for (StageTime t : byKey.values()) if (t.backward() == backward) s += t.nanos();
        return s;
    }

    /** The times as a table: stage, kernel, ms per pass and share of its direction. */
    public TextTable table() {
        TextTable t = new TextTable("pass", "stage", "kernel", "ms", "share");
        t.title("stage times" + (passes > 1 ? " (mean of " + passes + " passes)" : "") + ", wall clock");
        for (StageTime s : stages()) {
            long dir = Math.max(1, total(s.backward()));
            t.row(s.backward() ? "backward" : "forward", s.stage(), s.kernel(), Fmt.fixed(meanMillis(s), 3),
                    Fmt.fixed(100.0 * s.nanos() / dir, 1) + "%");
        }
        t.note("forward " + Fmt.fixed(total(false) / 1e6 / Math.max(1, passes), 3) + " ms, backward "
                + Fmt.fixed(total(true) / 1e6 / Math.max(1, passes), 3) + " ms per pass");
        return t;
    }

    @Override
    public String toString() { return table().toString(); }
}
