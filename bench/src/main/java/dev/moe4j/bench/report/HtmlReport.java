package dev.moe4j.bench.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.moe4j.bench.report.Svg.esc;

/**
 * A self-contained HTML report: headings, paragraphs, charts as inline SVG and tables, styled by
 * an inline style sheet with the system's fonts. Nothing is fetched and there are no scripts, so
 * the file opens anywhere, offline, and prints as it shows.
 *
 * <pre>{@code
 * new HtmlReport("Training").section("Loss").chart(lossChart, "MSE per step").write(Path.of("reports/train.html"));
 * }</pre>
 */
public final class HtmlReport {
    private sealed interface Block permits Heading, Paragraph, Figure, Table {}
    private record Heading(String text) implements Block {}
    private record Paragraph(String text) implements Block {}
    private record Figure(Chart chart, String caption) implements Block {}
    private record Table(List<String> headers, List<List<String>> rows, String caption) implements Block {}

    private final String title;
    private final List<Block> blocks = new ArrayList<>();
    private final List<Chart> charts = new ArrayList<>();
    private final Set<String> ids = new HashSet<>();

    /** A report with the given title. */
    public HtmlReport(String title) {
        this.title = title;
    }

    /** Starts a section with a heading. Returns this. */
    public HtmlReport section(String heading) {
        blocks.add(new Heading(heading));
        return this;
    }

    /** A paragraph of plain text. Returns this. */
    public HtmlReport paragraph(String text) {
        blocks.add(new Paragraph(text));
        return this;
    }

    /**
     * A chart with a caption.
     *
     * @throws IllegalArgumentException when another chart has the same id
     */
    public HtmlReport chart(Chart chart, String caption) {
        if (!ids.add(chart.id())) throw new IllegalArgumentException("two charts with id '" + chart.id() + "'");
        blocks.add(new Figure(chart, caption));
        charts.add(chart);
        return this;
    }

    /**
     * A table of text cells.
     *
     * @throws IllegalArgumentException when a row's length differs from the headers'
     */
    public HtmlReport table(List<String> headers, List<List<String>> rows, String caption) {
        for (List<String> r : rows) {
            if (r.size() != headers.size()) throw new IllegalArgumentException("table row has " + r.size() + " cells for " + headers.size() + " columns");
        }
        List<List<String>> copy = new ArrayList<>();
        for (List<String> r : rows) copy.add(List.copyOf(r));
        blocks.add(new Table(List.copyOf(headers), copy, caption));
        return this;
    }

    /** The charts, in order. */
    public List<Chart> charts() { return List.copyOf(charts); }

    private static final String CSS = """
            body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #111; background: #fff;
                   margin: 0 auto; max-width: 960px; padding: 16px 20px 48px; line-height: 1.45; }
            h1 { font-size: 1.6em; margin: 0.4em 0 0.2em; }
            h2 { font-size: 1.2em; margin: 1.6em 0 0.4em; border-bottom: 2px solid #222; padding-bottom: 2px; }
            p { margin: 0.4em 0; }
            figure.chart { margin: 12px 0 20px; padding: 0; }
            figure.chart svg { display: block; max-width: 100%; height: auto; border: 1px solid #bbb; }
            figcaption { font-size: 0.92em; color: #333; margin-top: 4px; }
            figcaption b { color: #111; }
            table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9em; }
            caption { text-align: left; font-size: 0.92em; color: #333; padding-bottom: 4px; }
            th, td { border: 1px solid #999; padding: 3px 8px; text-align: left; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            th { background: #eee; }
            .chart-svg text { font-family: inherit; }
            @media print { figure.chart { break-inside: avoid; } }
            """;

    /** Whether a cell reads as a number (right-aligned): digits with an optional sign, decimals, exponent, % or a unit after a space. */
    static boolean numeric(String cell) {
        return cell.matches("[-+]?[0-9][0-9,]*(\\.[0-9]+)?(e[-+]?[0-9]+)?%?( [A-Za-z/]+)?") || cell.equals("n/a") || cell.equals("NaN");
    }

    /** The whole document. */
    public String render() {
        StringBuilder b = new StringBuilder(64 * 1024);
        b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        b.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        b.append("<title>").append(esc(title)).append("</title>\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n");
        b.append("<h1>").append(esc(title)).append("</h1>\n");
        boolean open = false;
        for (Block block : blocks) {
            switch (block) {
                case Heading h -> {
                    if (open) b.append("</section>\n");
                    b.append("<section>\n<h2>").append(esc(h.text())).append("</h2>\n");
                    open = true;
                }
                case Paragraph p -> b.append("<p>").append(esc(p.text())).append("</p>\n");
                case Figure f -> {
                    b.append("<figure class=\"chart\" id=\"fig-").append(f.chart().id()).append("\">\n");
                    b.append(f.chart().svg()).append('\n');
                    b.append("<figcaption><b>").append(esc(f.chart().title())).append(".</b> ").append(esc(f.caption())).append("</figcaption>\n</figure>\n");
                }
                case Table t -> {
                    b.append("<table>\n");
                    if (t.caption() != null) b.append("<caption>").append(esc(t.caption())).append("</caption>\n");
                    b.append("<thead><tr>");
                    for (String h : t.headers()) b.append("<th>").append(esc(h)).append("</th>");
                    b.append("</tr></thead>\n<tbody>\n");
                    for (List<String> r : t.rows()) {
                        b.append("<tr>");
                        for (String cell : r) b.append(numeric(cell) ? "<td class=\"n\">" : "<td>").append(esc(cell)).append("</td>");
                        b.append("</tr>\n");
                    }
                    b.append("</tbody>\n</table>\n");
                }
            }
        }
        if (open) b.append("</section>\n");
        b.append("</body>\n</html>\n");
        return b.toString();
    }

    /**
     * Writes the document to {@code path} (through a temporary file in the same folder, moved into
     * place), creating the folder when needed.
     *
     * @throws IOException when the file cannot be written
     */
    public void write(Path path) throws IOException {
        Path abs = path.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, ".report-", ".tmp");
        try {
            Files.writeString(tmp, render(), StandardCharsets.UTF_8);
            try {
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system: keep the default permissions
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Checks, before any long work, that a report can be written to {@code path}: the folder exists
     * or can be created, a file can be created in it, and the path is not a folder or a read-only file.
     *
     * @throws IllegalArgumentException naming the path and the reason otherwise
     */
    public static void requireWritable(Path path) {
        Path abs = path.toAbsolutePath();
        if (Files.isDirectory(abs)) throw new IllegalArgumentException("cannot write the report to " + abs + ": it is a directory; give a file name such as " + abs.resolve("report.html"));
        Path dir = abs.getParent();
        try {
            if (dir != null) Files.createDirectories(dir);
        } catch (IOException | SecurityException e) {
            throw new IllegalArgumentException("cannot write the report to " + abs + ": cannot create the directory " + dir + " (" + e + ")");
        }
        if (Files.exists(abs) && !Files.isWritable(abs)) throw new IllegalArgumentException("cannot write the report to " + abs + ": the file is not writable");
        try {
            Path probe = Files.createTempFile(dir, ".report-check-", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw new IllegalArgumentException("cannot write the report to " + abs + ": cannot create files in " + dir + " (" + e + ")");
        }
    }
}
