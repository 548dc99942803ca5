package dev.moe4j.bench.report;

/**
 * A chart that renders itself as an inline SVG element. Charts carry their data marks (lines,
 * bars, cells) with the class {@code mark}, and the {@code svg} element carries
 * {@code data-chart="id"}, so that a test can find every chart and its marks in the page.
 */
public interface Chart {
    /** An id unique in the report (letters, digits and dashes). */
    String id();

    /** The title, shown above the chart and as the SVG's accessible name. */
    String title();

    /** The chart as one {@code <svg>} element. */
    String svg();

    /** The number of data marks the chart draws. */
    int marks();
}
