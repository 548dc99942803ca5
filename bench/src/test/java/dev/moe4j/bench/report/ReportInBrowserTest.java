package dev.moe4j.bench.report;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Renders the report that the training main writes in headless Chromium and checks that every
 * chart is there and is not blank: in the DOM Chromium builds (each chart's SVG holds data marks)
 * and in a screenshot (each chart's region has ink). Skips, saying why, without Chromium.
 */
class ReportInBrowserTest {
    @TempDir
    static Path dir;
    static Path report;
    static String html;

    static Chromium chromium;

    @BeforeAll
    static void writeReportByTraining() throws Exception {
        chromium = Chromium.find().orElse(null);
        if (chromium == null) return;                                     // the test skips, saying why
        report = dir.resolve("out/train-report.html");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        int code = dev.moe4j.bench.TrainMoeAccess.run(new String[] {"--steps", "12", "--tokens", "48", "--d", "8", "--f", "16", "--experts", "4",
                "--k", "2", "--capacity-factor", "1.0", "--time-every", "4", "--load-every", "0", "--report", report.toString()}, ps, ps);
        assertThat(code).as(out.toString(StandardCharsets.UTF_8)).isZero();
        html = Files.readString(report);
    }

    /** The chart ids and SVG heights in the report, in order. */
    static Map<String, Integer> charts(String page) {
        Map<String, Integer> out = new LinkedHashMap<>();
        Matcher m = Pattern.compile("<svg [^>]*data-chart=\"([^\"]+)\"[^>]*height=\"(\\d+)\"").matcher(page);
        while (m.find()) out.put(m.group(1), Integer.parseInt(m.group(2)));
        return out;
    }

    @Test
    void everyChartIsRenderedWithInk() throws Exception {
        assumeTrue(chromium != null, "Chromium is not installed (apt-get install chromium, or -Dmoe4j.chromium=/path/to/chrome): the browser check is skipped");
        Map<String, Integer> charts = charts(html);
        assertThat(charts.keySet()).contains("loss", "load-none", "load-aux", "load-lossfree", "dropped", "entropy", "imbalance", "aux-loss",
                "bias-lossfree", "kernel-time");

        // one launch: the DOM as Chromium parsed it, and a screenshot of the charts stacked at known places
        StringBuilder css = new StringBuilder("<style>body > h1, h2, p, table, figcaption { display: none !important; }"
                + " body { margin: 0 !important; padding: 0 !important; max-width: none !important; background: white; }"
                + " figure.chart { position: absolute !important; left: 0; margin: 0 !important; }"
                + " figure.chart svg { border: none !important; width: 920px !important; height: auto !important; }");
        Map<String, int[]> regions = new LinkedHashMap<>();
        int top = 0, gap = 40;
        for (Map.Entry<String, Integer> c : charts.entrySet()) {
            css.append(" #fig-").append(c.getKey()).append(" { top: ").append(top).append("px; }");
            regions.put(c.getKey(), new int[] {top, c.getValue()});
            top += c.getValue() + gap;
        }
        css.append("</style>");
        Path stacked = dir.resolve("stacked.html");
        Files.writeString(stacked, html.replace("</head>", css + "</head>"));
        Path png = dir.resolve("stacked.png"), domOut = dir.resolve("dom.html");
        Process p = chromium.start(stacked, dir, domOut, "--dump-dom", "--screenshot=" + png, "--window-size=960," + top);
        Chromium.await(p, domOut, "rendering the report");

        String parsed = Files.readString(domOut);
        for (String id : charts.keySet()) {
            int at = parsed.indexOf("data-chart=\"" + id + "\"");
            assertThat(at).as("chart " + id + " in Chromium's DOM").isPositive();
            String svg = parsed.substring(at, parsed.indexOf("</svg>", at));
            Matcher marks = Pattern.compile("<(polyline|rect|circle|path)[^>]*class=\"mark[ \"]").matcher(svg);
            int n = 0;
            while (marks.find()) n++;
            assertThat(n).as("data marks of chart " + id).isPositive();
        }

        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img).as("screenshot").isNotNull();
        assertThat(img.getHeight()).isGreaterThanOrEqualTo(top - 1);
        List<String> report = new ArrayList<>();
        for (Map.Entry<String, int[]> r : regions.entrySet()) {
            int y0 = r.getValue()[0], h = r.getValue()[1];
            double ink = inkFraction(img, 0, y0, 920, y0 + h);
            // the plot area alone (inside the axes), where the data marks are
            double plot = inkFraction(img, 260, y0 + 50, 760, y0 + h - 60);
            report.add(r.getKey() + ": ink " + String.format("%.3f", ink) + ", plot " + String.format("%.3f", plot));
            assertThat(ink).as("ink in the region of chart " + r.getKey() + " " + report).isGreaterThan(0.005);
            assertThat(plot).as("ink in the plot area of chart " + r.getKey() + " " + report).isGreaterThan(0.002);
            // the gap under each chart stays white: the regions really are where the charts are
            assertThat(inkFraction(img, 0, y0 + h + 8, 920, y0 + h + gap - 8)).as("gap under " + r.getKey()).isLessThan(0.001);
        }
    }

    /** Fraction of pixels in [x0, x1) x [y0, y1) darker than light grey. */
    static double inkFraction(BufferedImage img, int x0, int y0, int x1, int y1) {
        x1 = Math.min(x1, img.getWidth());
        y1 = Math.min(y1, img.getHeight());
        long ink = 0, all = 0;
        for (int y = Math.max(0, y0); y < y1; y++) {
            for (int x = Math.max(0, x0); x < x1; x++) {
                int rgb = img.getRGB(x, y);
                int lum = (299 * ((rgb >> 16) & 255) + 587 * ((rgb >> 8) & 255) + 114 * (rgb & 255)) / 1000;
                if (lum < 200) ink++;
                all++;
            }
        }
        return all == 0 ? 0 : (double) ink / all;
    }
}
