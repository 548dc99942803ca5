package dev.moe4j.bench.report;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;

/**
 * The figures of one run of the GPU MoE benchmark, as {@link GpuMoeReport} draws them: per (shape,
 * kernel) the median time and the rate it gives, the baseline measured in the same run, and a
 * reference figure measured elsewhere (a static comparison).
 *
 * <p>Rates come in three units: {@value #TFLOPS} (GEMMs; baseline cuBLAS bf16 dense at the same
 * FLOPs), {@value #GBS} (row movements; baseline the device-to-device copy) and {@value #MS} (kernels
 * timed in milliseconds, such as gating; lower is better, no measured baseline). An entry that is itself
 * a baseline (the cuBLAS product, the copy) has {@code isBaseline} set: it is listed in the tables but
 * not drawn as a measured bar.
 *
 * @param device        the device the run measured (its description)
 * @param referenceNote where the reference figures come from (machine, software, method)
 * @param method        how the run measured (warm-up, repeats, statistic)
 * @param entries       the measurements, in the order of the run
 */
public record GpuMoeResults(String device, String referenceNote, String method, List<Entry> entries) {

    /** Unit of GEMM throughput. */
    public static final String TFLOPS = "TFLOP/s";
    /** Unit of memory bandwidth. */
    public static final String GBS = "GB/s";
    /** Unit of kernel time. */
    public static final String MS = "ms";

    /**
     * One measurement.
     *
     * @param shape         the MoE shape, "-" for a shape-free measurement (the copy)
     * @param kernel        what was timed
     * @param ms            median device time, milliseconds
     * @param unit          {@link #TFLOPS}, {@link #GBS}, {@link #MS}, or "" when the rate has no known unit
     * @param value         the rate in {@code unit} (the time itself for {@link #MS}); NaN when unknown
     * @param baseline      the baseline's rate in {@code unit}, measured in the same run; NaN for none
     * @param baselineName  what the baseline is (empty for none)
     * @param reference     the reference figure in {@code unit}; NaN for none
     * @param isBaseline    whether this entry is itself the baseline of others
     */
    public record Entry(String shape, String kernel, double ms, String unit, double value, double baseline, String baselineName,
                        double reference, boolean isBaseline) {
        /** Checks the names. */
        public Entry {
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(unit, "unit");
            Objects.requireNonNull(baselineName, "baselineName");
        }

        /** Whether a smaller value is better (times). */
        public boolean lowerIsBetter() { return unit.equals(MS); }
    }

    /** Copies the list. */
    public GpuMoeResults {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(referenceNote, "referenceNote");
        Objects.requireNonNull(method, "method");
        entries = List.copyOf(entries);
    }

    /** The shapes of the entries in order of first appearance, without "-". */
    public List<String> shapes() {
        LinkedHashSet<String> s = new LinkedHashSet<>();
        for (Entry e : entries) if (!e.shape().equals("-")) s.add(e.shape());
        return new ArrayList<>(s);
    }

    /** The entries of {@code shape} in {@code unit}, without the baseline entries. */
    public List<Entry> measured(String shape, String unit) {
        List<Entry> out = new ArrayList<>();
        for (Entry e : entries) if (e.shape().equals(shape) && e.unit().equals(unit) && !e.isBaseline()) out.add(e);
        return out;
    }
}
