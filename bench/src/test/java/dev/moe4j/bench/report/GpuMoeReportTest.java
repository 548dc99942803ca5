package dev.moe4j.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The GPU benchmark's HTML report, built from fabricated results (no device involved). */
class GpuMoeReportTest {

    static final String S0 = "8192, 2, 8, 4096 -> 14336", S1 = "4096, 8, 64, 7168 -> 2048";

    static GpuMoeResults fabricated() {
        String T = GpuMoeResults.TFLOPS, G = GpuMoeResults.GBS, M = GpuMoeResults.MS;
        return new GpuMoeResults("cuda:0 Test GPU (sm_90, 132 SMs)", "Fabricated H100 figures.", "Fabricated timings.", List.of(
                new GpuMoeResults.Entry("-", "device-to-device copy (1 GiB)", 0.75, G, 2863, Double.NaN, "", 2984, true),
                new GpuMoeResults.Entry(S0, "gating softmax+top-2 (v2)", 0.0541, M, 0.0541, Double.NaN, "", 0.043, false),
                new GpuMoeResults.Entry(S0, "gating softmax+top-2 (v3)", 0.0121, M, 0.0121, Double.NaN, "", 0.043, false),
                new GpuMoeResults.Entry(S0, "permute bf16 (gather, v2)", 0.11, G, 2441, 2863, "device-to-device copy", 2402, false),
                new GpuMoeResults.Entry(S0, "grouped GEMM fwd bf16 (v3 mma.sync)", 4.1, T, 468.3, 700.5, "cuBLAS bf16 dense, same FLOPs", 715, false),
                new GpuMoeResults.Entry(S0, "cuBLAS dense bf16 [R,d]x[d,f]", 2.74, T, 700.5, Double.NaN, "", Double.NaN, true),
                new GpuMoeResults.Entry(S1, "grouped GEMM dW bf16 (v3)", 2.0, T, 481.0, 690.0, "cuBLAS bf16 dense, same FLOPs", 483, false)));
    }

    @Test
    void everyShapeGetsItsChartsWithBaselineAndReferenceBars() {
        HtmlReport r = GpuMoeReport.html(fabricated());
        assertThat(r.charts()).extracting(Chart::id).containsExactly("s0-tflops", "s0-gbs", "s0-ms", "s1-tflops");
        // moe4j, the baseline of the run and the reference: one bar each per kernel
        assertThat(r.charts().get(0).marks()).isEqualTo(3);
        assertThat(r.charts().get(1).marks()).isEqualTo(3);
        assertThat(r.charts().get(2).marks()).isEqualTo(4);          // v2 and v3, each beside the reference (no baseline series)
        String html = r.render();
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<style>").doesNotContain("<script").doesNotContain("<link")
                .doesNotContain("@import");
        assertThat(html.replace("http://www.w3.org/2000/svg", "")).doesNotContain("http://").doesNotContain("https://");
        assertThat(html).contains("cuda:0 Test GPU").contains("Fabricated H100 figures.").contains("Fabricated timings.")
                .contains("cuBLAS bf16 dense, same FLOPs (this run)").contains("device-to-device copy (this run)")
                .contains(GpuMoeReport.REFERENCE).contains("static comparison")
                .contains("gating softmax+top-2 (v2)").contains("gating softmax+top-2 (v3)").contains("lower is better")
                .contains("Shape (T, k, E, d -&gt; f) = 4096, 8, 64, 7168 -&gt; 2048");
        // bars carry their values and units
        assertThat(html).contains("468.3 TFLOP/s").contains("700.5 TFLOP/s").contains("715 TFLOP/s").contains("2441 GB/s");
    }

    @Test
    void theTableHoldsEveryFigureWithItsRatios() {
        String html = GpuMoeReport.html(fabricated()).render();
        // grouped GEMM at 468.3 of cuBLAS's 700.5 TFLOP/s: 67%; of the reference 715: 65%
        assertThat(html).contains("<td class=\"n\">468.3 TFLOP/s</td><td class=\"n\">700.5 TFLOP/s</td><td class=\"n\">67%</td>"
                + "<td class=\"n\">715.0 TFLOP/s</td><td class=\"n\">65%</td>");
        // times: speed relative to the reference is reference / time (0.043 / 0.0121 = 355%)
        assertThat(html).contains("<td class=\"n\">0.0121 ms</td><td class=\"n\">n/a</td><td class=\"n\">n/a</td>"
                + "<td class=\"n\">0.0430 ms</td><td class=\"n\">355%</td>");
        // the baselines themselves are listed in the table
        assertThat(html).contains("<td>cuBLAS dense bf16 [R,d]x[d,f]</td>").contains("<td>device-to-device copy (1 GiB)</td>");
        assertThat(html.split("<tr>", -1)).hasSize(1 + 1 + fabricated().entries().size());
    }

    @Test
    void writesAFileAndRejectsEmptyResults(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("gpu/report.html");
        GpuMoeReport.html(fabricated()).write(out);
        assertThat(Files.readString(out)).contains("moe4j MoE kernels on the GPU");
        assertThatThrownBy(() -> GpuMoeReport.html(new GpuMoeResults("d", "r", "m", List.of())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one");
    }
}
