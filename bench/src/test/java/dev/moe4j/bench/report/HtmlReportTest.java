package dev.moe4j.bench.report;

import dev.moe4j.bench.insight.StageTimes;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.Routing;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The HTML report and the training / benchmark reports built on it, without a browser. */
class HtmlReportTest {

    static List<TrainingLog> logs(int steps) {
        List<TrainingLog> out = new java.util.ArrayList<>();
        for (String phase : List.of("aux", "lossfree")) {
            MoeOptions o = new MoeOptions().hiddenSize(8).intermediateSize(8).experts(4).topK(2).capacityFactor(1.0).seed(3).initStd(0.4, 0.1);
            o.balancing(phase.equals("aux") ? Balancing.auxLoss(0.01) : Balancing.lossFree(0.01)).selectionBias(phase.equals("lossfree"));
            MoeLayer layer = new MoeLayer(o);
            TrainingLog log = new TrainingLog(phase, 4);
            Generator g = new Generator(9);
            for (int s = 1; s <= steps; s++) {
                layer.forward(Tensor.randn(g, DType.F32, 16, 8));
                layer.updateSelectionBias();
                log.record(s, 1.0 / s, layer.report().auxLoss(), layer.lastRouting(), 1000 * s);
            }
            log.addTimes(new StageTimes().record("permute", "Permute.permute", false, 1_000_000).record("permute", "Permute.permuteBackward", true, 2_000_000));
            out.add(log);
        }
        return out;
    }

    @Test
    void trainingReportHoldsEveryChartWithData() {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("router", "softmax");
        HtmlReport r = TrainingReport.build("Training", settings, logs(12));
        assertThat(r.charts()).extracting(Chart::id)
                .containsExactly("loss", "load-aux", "load-lossfree", "dropped", "entropy", "imbalance", "aux-loss", "bias-lossfree", "kernel-time");
        assertThat(r.charts()).allSatisfy(c -> assertThat(c.marks()).as(c.id()).isPositive());
        String html = r.render();
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<style>").doesNotContain("<script").doesNotContain("<link")
                .doesNotContain("@import").doesNotContain("url(http");
        assertThat(html.replace("http://www.w3.org/2000/svg", "")).doesNotContain("http://").doesNotContain("https://");
        for (Chart c : r.charts()) assertThat(html).contains("data-chart=\"" + c.id() + "\"");
        assertThat(html).contains("<td class=\"n\">12</td>");
    }

    @Test
    void trainingLogRecordsTheRouting() {
        TrainingLog log = logs(5).get(1);
        assertThat(log.size()).isEqualTo(5);
        assertThat(log.steps()).containsExactly(1, 2, 3, 4, 5);
        assertThat(log.hasBias()).isTrue();
        assertThat(log.bias(0)[0]).isNotNaN();
        for (double f : log.droppedFraction()) assertThat(f).isBetween(0.0, 1.0);
        assertThat(log.times().passes()).isEqualTo(1);
        assertThatThrownBy(() -> new TrainingLog("x", 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void switchBalanceLossIsKForUniformScoresAndLoad() {
        int T = 8, E = 4, k = 2;
        int[] ids = new int[T * k];
        for (int p = 0; p < ids.length; p++) ids[p] = p % E;
        float[] s = new float[T * E];
        java.util.Arrays.fill(s, 0.25f);
        var plan = dev.moe4j.kernels.cpu.moe.RoutingPlan.build(ids, T, k, E);
        Routing r = new Routing("uniform", plan, ids, null, Tensor.full(DType.F32, 0.5, T, k), Tensor.of(s, T, E), Tensor.of(s, T, E), null, 0);
        assertThat(TrainingLog.switchBalanceLoss(r)).isCloseTo(2.0, org.assertj.core.data.Offset.offset(1e-6));
    }

    @Test
    void reportNeedsPhasesWithSteps() {
        assertThatThrownBy(() -> TrainingReport.build("t", Map.of(), List.of())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> TrainingReport.build("t", Map.of(), List.of(new TrainingLog("empty", 2))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
    }

    @Test
    void benchmarkReportShowsBarsBesideTheBaseline() {
        HtmlReport r = new BenchmarkReport("SGEMM", "throughput", "GFLOP/s", "moe4j", "OpenBLAS").add("256, 1 thread", 50, 100)
                .add("512, 1 thread", 70, 80).note("2 cores").html();
        assertThat(r.charts()).hasSize(1);
        assertThat(r.charts().get(0).marks()).isEqualTo(4);
        assertThat(r.render()).contains("50%", "88%", "2 cores", "OpenBLAS (hatched)");
        assertThatThrownBy(() -> new BenchmarkReport("x", "y", "z", "a", "b").html()).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void duplicateChartIdsAndRaggedTablesAreRefused() {
        HtmlReport r = new HtmlReport("t").chart(new LineChart("a", "A"), "");
        assertThatThrownBy(() -> r.chart(new LineChart("a", "A again"), "")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> r.table(List.of("x", "y"), List.of(List.of("1")), null)).isInstanceOf(IllegalArgumentException.class);
        assertThat(HtmlReport.numeric("12.5 ms")).isTrue();
        assertThat(HtmlReport.numeric("-3.1e-05")).isTrue();
        assertThat(HtmlReport.numeric("softmax")).isFalse();
    }

    @Test
    void writesAFileReadableByOthers(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("a/b/report.html");
        HtmlReport.requireWritable(out);
        new HtmlReport("t & <u>").paragraph("x").write(out);
        assertThat(Files.readString(out)).contains("<title>t &amp; &lt;u&gt;</title>");
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out))).isEqualTo("rw-r--r--");
        try (var files = Files.list(out.getParent())) {
            assertThat(files).containsExactly(out);                      // no temporary file left behind
        }
    }

    @Test
    void unwritablePathsAreReportedBeforeAnyWork(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("plain.txt"), "x");
        assertThatThrownBy(() -> HtmlReport.requireWritable(file.resolve("report.html"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot write the report").hasMessageContaining("cannot create the directory");
        assertThatThrownBy(() -> HtmlReport.requireWritable(dir)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is a directory");
    }
}
