package dev.moe4j.bench;

import dev.moe4j.bench.report.GpuMoeReport;
import dev.moe4j.bench.report.GpuMoeResults;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The benchmark's printed rows turned into report entries (no device involved). */
class GpuMoeBenchmarkResultsTest {

    static List<GpuMoeBenchmark.Row> rows() {
        String s = GpuMoeBenchmark.SHAPES[1].toString();
        return List.of(
                new GpuMoeBenchmark.Row("-", "device-to-device copy (1 GiB)", 0.75, "2863 GB/s", "2984.0 GB/s: 96%"),
                new GpuMoeBenchmark.Row(s, "gating softmax+top-8 (v2)", 0.0541, "0.0541 ms", "0.043 ms: 79% of its speed"),
                new GpuMoeBenchmark.Row(s, "gating softmax+top-8 (v3)", 0.0101, "0.0101 ms", "0.043 ms: 426% of its speed"),
                new GpuMoeBenchmark.Row(s, "permute bf16 (gather, v2)", 0.16, "2936 GB/s", "3416.0 GB/s: 86%; copy 2984.0: 98%"),
                new GpuMoeBenchmark.Row(s, "grouped GEMM fwd bf16 (v3 mma.sync)", 2.1, "458.1 TFLOP/s", "592.0 TFLOP/s (torch._grouped_mm): 77%"),
                new GpuMoeBenchmark.Row(s, "grouped GEMM fwd bf16 (v4 another kernel)", 1.7, "566,0 TFLOP/s", "592.0 TFLOP/s (torch._grouped_mm): 96%"),
                new GpuMoeBenchmark.Row(s, "cuBLAS dense bf16 [R,d]x[d,f]", 1.4, "687.2 TFLOP/s", "same flops as one GEMM (baseline of this run)"));
    }

    @Test
    void unitsValuesBaselinesAndReferencesComeFromTheRows() {
        GpuMoeResults r = GpuMoeBenchmark.results("dev", "method", rows());
        List<GpuMoeResults.Entry> e = r.entries();
        assertThat(e).hasSize(7);
        assertThat(e.get(0).isBaseline()).isTrue();
        assertThat(e.get(0).value()).isEqualTo(2863);
        assertThat(e.get(0).reference()).isEqualTo(2984);
        assertThat(e.get(2).unit()).isEqualTo(GpuMoeResults.MS);
        assertThat(e.get(2).value()).isEqualTo(0.0101);
        assertThat(e.get(2).reference()).isEqualTo(0.043);
        assertThat(e.get(2).baseline()).isNaN();
        assertThat(e.get(3).unit()).isEqualTo(GpuMoeResults.GBS);
        assertThat(e.get(3).baseline()).isEqualTo(2863);                // the copy of the same run
        assertThat(e.get(3).reference()).isEqualTo(3416);
        assertThat(e.get(4).baseline()).isEqualTo(687.2);               // cuBLAS of the same shape
        assertThat(e.get(4).baselineName()).contains("cuBLAS");
        assertThat(e.get(4).reference()).isEqualTo(592);
        assertThat(e.get(5).value()).isEqualTo(566.0);                  // a decimal comma is read too
        assertThat(e.get(6).isBaseline()).isTrue();
        assertThat(e.get(6).reference()).isNaN();
        assertThat(r.referenceNote()).contains("H100");
        assertThat(GpuMoeBenchmark.figure("no number here")).isNull();

        String html = GpuMoeReport.html(r).render();
        assertThat(html).contains("gating softmax+top-8 (v3)").contains("grouped GEMM fwd bf16 (v4 another kernel)").contains("687.2 TFLOP/s");
    }
}
