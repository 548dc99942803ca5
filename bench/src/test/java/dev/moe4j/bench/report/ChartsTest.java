package dev.moe4j.bench.report;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The chart model: data in, well-formed SVG with one mark per datum out. */
class ChartsTest {

    static Document parse(String svg) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    }

    static List<Element> marks(Document d) {
        List<Element> out = new ArrayList<>();
        NodeList all = d.getElementsByTagName("*");
        for (int i = 0; i < all.getLength(); i++) {
            Element e = (Element) all.item(i);
            if ((" " + e.getAttribute("class") + " ").contains(" mark ")) out.add(e);
        }
        return out;
    }

    static List<String> texts(Document d) {
        List<String> out = new ArrayList<>();
        NodeList t = d.getElementsByTagName("text");
        for (int i = 0; i < t.getLength(); i++) out.add(t.item(i).getTextContent());
        return out;
    }

    @Test
    void lineChartDrawsOnePolylinePerRunOfFiniteValues() throws Exception {
        double[] x = {1, 2, 3, 4, 5, 6};
        LineChart c = new LineChart("loss", "Loss").x("step", "steps").y("loss", "MSE")
                .series("a", x, new double[] {3, 2, 1.5, 1.2, 1.1, 1.0})
                .series("b", x, new double[] {4, Double.NaN, 2, 1.8, 1.6, 1.5});
        Document d = parse(c.svg());
        Element svg = d.getDocumentElement();
        assertThat(svg.getAttribute("data-chart")).isEqualTo("loss");
        assertThat(svg.getNamespaceURI()).isEqualTo("http://www.w3.org/2000/svg");
        List<Element> lines = marks(d).stream().filter(e -> e.getTagName().equals("polyline")).toList();
        assertThat(lines).hasSize(3);                                    // a, then b split by its NaN
        assertThat(lines.get(0).getAttribute("points").split(" ")).hasSize(6);
        assertThat(lines.get(2).getAttribute("stroke-dasharray")).isNotEmpty();   // series b is dashed, a is solid
        assertThat(lines.get(0).hasAttribute("stroke-dasharray")).isFalse();
        assertThat(texts(d)).contains("step (steps)", "loss (MSE)", "a", "b");
        assertThat(c.marks()).isEqualTo(2);
    }

    @Test
    void higherValuesAreDrawnHigher() throws Exception {
        LineChart c = new LineChart("up", "Up").series("s", new double[] {0, 1}, new double[] {0, 10});
        Element line = marks(parse(c.svg())).stream().filter(e -> e.getTagName().equals("polyline")).findFirst().orElseThrow();
        String[] pts = line.getAttribute("points").split(" ");
        double y0 = Double.parseDouble(pts[0].split(",")[1]), y1 = Double.parseDouble(pts[1].split(",")[1]);
        double x0 = Double.parseDouble(pts[0].split(",")[0]), x1 = Double.parseDouble(pts[1].split(",")[0]);
        assertThat(y1).isLessThan(y0);                                   // SVG y grows downwards
        assertThat(x1).isGreaterThan(x0);
    }

    @Test
    void logScaleLeavesOutNonPositiveValuesAndLabelsPowersOfTen() throws Exception {
        LineChart c = new LineChart("log", "Log").y("loss", "").logY(true).series("s", new double[] {1, 2, 3}, new double[] {0.5, 0, 0.004});
        Document d = parse(c.svg());
        assertThat(texts(d)).contains("0.001", "0.01", "0.1", "1", "loss, log scale");
        assertThat(marks(d).stream().filter(e -> e.getTagName().equals("polyline")).count()).isEqualTo(2);
    }

    @Test
    void lineChartWithoutDataSaysSo() throws Exception {
        LineChart c = new LineChart("none", "None").series("s", new double[] {1}, new double[] {Double.NaN});
        assertThat(c.marks()).isZero();
        assertThat(texts(parse(c.svg()))).contains("no data");
        assertThatThrownBy(() -> c.series("t", new double[2], new double[3])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LineChart("bad id", "x")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void manySeriesGetDistinctStyles() {
        java.util.Set<String> styles = new java.util.HashSet<>();
        for (int i = 0; i < 49; i++) styles.add(Svg.dash(i) + "|" + Svg.markerShape(i));
        assertThat(styles).hasSize(49);
    }

    @Test
    void heatmapHasOneShadedCellPerRowAndColumn() throws Exception {
        double[][] v = {{0, 1, 2}, {2, 1, 0}};
        Heatmap h = new Heatmap("load", "Load", List.of("e0", "e1"), new double[] {1, 2, 3}, v).x("step", "steps").value("share", "%", 100);
        Document d = parse(h.svg());
        List<Element> cells = marks(d);
        assertThat(cells).hasSize(6);
        assertThat(h.marks()).isEqualTo(6);
        // row 0: values 0, 1, 2 get lighter-to-darker fills
        int g0 = grey(cells.get(0)), g1 = grey(cells.get(1)), g2 = grey(cells.get(2));
        assertThat(g0).isGreaterThan(g1);
        assertThat(g1).isGreaterThan(g2);
        assertThat(texts(d)).contains("e0", "e1", "share (%)", "step (steps)");
    }

    @Test
    void heatmapBinsLongRowsAndSharesAScale() throws Exception {
        int n = 400;
        double[] x = new double[n];
        double[][] v = new double[1][n];
        for (int i = 0; i < n; i++) {
            x[i] = i + 1;
            v[0][i] = 0.5;
        }
        Heatmap h = new Heatmap("long", "Long", List.of("e0"), x, v);
        Document d = parse(h.svg());
        assertThat(marks(d)).hasSize(160);
        assertThat(texts(d).stream().anyMatch(t -> t.contains("400 columns averaged into 160 bins"))).isTrue();
        int alone = grey(marks(d).get(0));
        int shared = grey(marks(parse(new Heatmap("long2", "Long", List.of("e0"), x, v).maxValue(1.0).svg())).get(0));
        assertThat(shared).isGreaterThan(alone);                         // 0.5 of a max of 1 is lighter than the max itself
        assertThatThrownBy(() -> new Heatmap("bad", "x", List.of("a"), new double[2], new double[][] {{1}})).isInstanceOf(IllegalArgumentException.class);
    }

    static int grey(Element rect) {
        return Integer.parseInt(rect.getAttribute("fill").substring(1, 3), 16);
    }

    @Test
    void barChartDrawsBarsWithValueLabelsAndPatterns() throws Exception {
        BarChart b = new BarChart("bars", "Bars", List.of("gemm", "permute")).axis("throughput", "GFLOP/s")
                .series("moe4j", new double[] {40, 2.5}).series("baseline", new double[] {60, Double.NaN});
        Document d = parse(b.svg());
        List<Element> bars = marks(d);
        assertThat(bars).hasSize(3);
        assertThat(b.marks()).isEqualTo(3);
        double w40 = Double.parseDouble(bars.get(0).getAttribute("width")), w60 = Double.parseDouble(bars.get(1).getAttribute("width"));
        assertThat(w60 / w40).isCloseTo(1.5, org.assertj.core.data.Offset.offset(0.02));
        assertThat(bars.get(0).getAttribute("fill")).startsWith("#");
        assertThat(bars.get(1).getAttribute("fill")).isEqualTo("url(#bars-p1)");
        assertThat(d.getElementsByTagName("pattern").getLength()).isGreaterThanOrEqualTo(2);
        assertThat(texts(d)).contains("n/a", "throughput (GFLOP/s)", "moe4j (solid)", "baseline (hatched)");
        assertThat(texts(d).stream().anyMatch(t -> t.startsWith("40 GFLOP/s"))).isTrue();
        assertThatThrownBy(() -> b.series("neg", new double[] {-1, 0})).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.series("short", new double[] {1})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void labelsAndTicks() {
        assertThat(Svg.label(0)).isEqualTo("0");
        assertThat(Svg.label(0.25)).isEqualTo("0.25");
        assertThat(Svg.label(1500)).isEqualTo("1500");
        assertThat(Svg.label(2.5e-5)).isEqualTo("2.5e-5");
        assertThat(Svg.label(12.0)).isEqualTo("12");
        assertThat(Svg.niceStep(0.37)).isEqualTo(0.5);
        assertThat(Svg.niceStep(130)).isEqualTo(200);
        assertThat(new Svg.Scale(0, 10, 0, 100, false).ticks(5)).containsExactly(0.0, 2.0, 4.0, 6.0, 8.0, 10.0);
        assertThat(Svg.esc("<a & \"b\">")).isEqualTo("&lt;a &amp; &quot;b&quot;&gt;");
    }
}
