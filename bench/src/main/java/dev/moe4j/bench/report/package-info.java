/**
 * Self-contained HTML reports with inline SVG charts: no scripts, no fonts or files fetched, so a
 * report opens offline and prints as it shows.
 *
 * <ul>
 *   <li>{@link dev.moe4j.bench.report.LineChart}, {@link dev.moe4j.bench.report.Heatmap},
 *       {@link dev.moe4j.bench.report.BarChart}: charts readable without colour (dash patterns and
 *       marker shapes, lightness, fill patterns, and text labels), axes with units;</li>
 *   <li>{@link dev.moe4j.bench.report.HtmlReport}: the document (sections, charts, tables) and the
 *       check that a report path is writable, made before any long work;</li>
 *   <li>{@link dev.moe4j.bench.report.TrainingLog} and {@link dev.moe4j.bench.report.TrainingReport}:
 *       what the training main records per step and the report it writes;</li>
 *   <li>{@link dev.moe4j.bench.report.BenchmarkReport}: benchmark figures as bars beside their baseline.</li>
 * </ul>
 */
package dev.moe4j.bench.report;
