package dev.moe4j.bench.insight;

import java.util.ArrayList;
import java.util.List;

/**
 * A plain-text table: a title, a header row, data rows and notes, printed with aligned columns
 * (numeric columns right-aligned). Long tables can be cut to their first rows with a line saying
 * how many were left out.
 *
 * <pre>{@code
 * new TextTable("expert", "rows").title("load").row(0, 12).row(1, 3)
 * // load
 * // expert  rows
 * // ------  ----
 * //      0    12
 * //      1     3
 * }</pre>
 */
public final class TextTable {
    private final String[] headers;
    private final List<String[]> rows = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private String title;
    private int maxRows = Integer.MAX_VALUE;

    /**
     * @param headers the column names
     * @throws IllegalArgumentException for no columns
     */
    public TextTable(String... headers) {
        if (headers.length == 0) throw new IllegalArgumentException("a table needs at least one column");
        this.headers = headers.clone();
    }

    /** Sets the line printed above the table. Returns this. */
    public TextTable title(String text) {
        this.title = text;
        return this;
    }

    /** Prints at most {@code n} data rows, then a line with the number left out. Returns this. */
    public TextTable maxRows(int n) {
        if (n < 0) throw new IllegalArgumentException("maxRows must be >= 0, got " + n);
        this.maxRows = n;
        return this;
    }

    /**
     * Adds a row; doubles go through {@link Fmt#num}, other values through {@code String.valueOf}.
     *
     * @throws IllegalArgumentException when the number of cells differs from the number of columns
     */
    public TextTable row(Object... cells) {
        if (cells.length != headers.length) {
            throw new IllegalArgumentException("row has " + cells.length + " cells, the table has " + headers.length + " columns");
        }
        String[] r = new String[cells.length];
        for (int i = 0; i < cells.length; i++) {
            Object c = cells[i];
            r[i] = c instanceof Double v ? Fmt.num(v) : c instanceof Float v ? Fmt.num(v) : String.valueOf(c);
        }
        rows.add(r);
        return this;
    }

    /** Adds a line printed under the table. Returns this. */
    public TextTable note(String text) {
        notes.add(text);
        return this;
    }

    /** The number of data rows. */
    public int size() { return rows.size(); }

    /** The cell at (row, column), as printed. */
    public String cell(int row, int column) { return rows.get(row)[column]; }

    @Override
    public String toString() {
        int n = headers.length, shown = Math.min(rows.size(), maxRows);
        int[] width = new int[n];
        boolean[] numeric = new boolean[n];
        for (int c = 0; c < n; c++) {
            width[c] = headers[c].length();
            numeric[c] = shown > 0;
        }
        for (int r = 0; r < shown; r++) {
            String[] row = rows.get(r);
            for (int c = 0; c < n; c++) {
                width[c] = Math.max(width[c], row[c].length());
                numeric[c] &= isNumeric(row[c]);
            }
        }
        StringBuilder b = new StringBuilder();
        if (title != null) b.append(title).append('\n');
        line(b, headers, width, numeric);
        String[] rule = new String[n];
        for (int c = 0; c < n; c++) rule[c] = "-".repeat(width[c]);
        line(b, rule, width, numeric);
        for (int r = 0; r < shown; r++) line(b, rows.get(r), width, numeric);
        if (shown < rows.size()) b.append("... ").append(rows.size() - shown).append(" more rows\n");
        for (String note : notes) b.append(note).append('\n');
        return b.toString();
    }

    private static void line(StringBuilder b, String[] cells, int[] width, boolean[] numeric) {
        StringBuilder l = new StringBuilder();
        for (int c = 0; c < cells.length; c++) {
            if (c > 0) l.append("  ");
            String s = cells[c];
            String pad = " ".repeat(width[c] - s.length());
            l.append(numeric[c] ? pad + s : s + pad);
        }
        int end = l.length();
        while (end > 0 && l.charAt(end - 1) == ' ') end--;
        b.append(l, 0, end).append('\n');
    }

    private static boolean isNumeric(String s) {
        if (s.isEmpty()) return false;
        if (s.equals("-") || s.equals("NaN") || s.equals("inf") || s.equals("-inf")) return true;
        char c = s.charAt(0);
        return Character.isDigit(c) || ((c == '-' || c == '+' || c == '.') && s.length() > 1 && (Character.isDigit(s.charAt(1)) || s.charAt(1) == '.'));
    }
}
