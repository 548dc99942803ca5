package dev.moe4j.bench.insight;

import dev.moe4j.moe.Routing;

/**
 * Stage 1, the router, as its kernels see it: per token the router logits [T, E'] (a GEMM of the
 * tokens with the router weight), the scores the choice is made on (softmax or sigmoid of the
 * logits) and the chosen experts with their gate weights [T, k].
 *
 * <p>Printed as one row per token: logits, scores, then {@code e3:0.612} per chosen slot
 * ({@code ~} marks a slot dropped later by the expert capacity, {@code null} a null expert,
 * {@code -} a slot the router did not fill). With more than 12 experts only the 12 best-scoring
 * ones of each token are listed.
 */
public final class RouterView {
    private static final int MAX_COLUMNS = 12;
    private final Routing routing;
    private final double[] logits, scores, weights;
    private final int maxTokens;

    /**
     * @param routing   the routing of one batch
     * @param maxTokens tokens printed by {@link #toString()}
     */
    public RouterView(Routing routing, int maxTokens) {
        this.routing = routing;
        this.logits = routing.logits() == null ? null : routing.logits().toDoubleArray();
        this.scores = routing.scores() == null ? null : routing.scores().toDoubleArray();
        this.weights = routing.weights().toDoubleArray();
        this.maxTokens = maxTokens;
    }

    /** The routing shown. */
    public Routing routing() { return routing; }

    /** E', the columns of the logits (real plus null experts), or 0 without logits. */
    public int columns() {
        return logits == null ? 0 : logits.length / Math.max(1, routing.numTokens());
    }

    /** Router logits of token t [E'] (empty for a router without logits). */
    public double[] logits(int token) { return row(logits, token); }

    /** Scores of token t [E'] (empty for a router without scores). */
    public double[] scores(int token) { return row(scores, token); }

    /** Gate weights of token t [k]. */
    public double[] weights(int token) {
        int k = routing.topK();
        double[] w = new double[k];
        System.arraycopy(weights, token * k, w, 0, k);
        return w;
    }

    private double[] row(double[] a, int token) {
        checkToken(token);
        if (a == null) return new double[0];
        int c = columns();
        double[] r = new double[c];
        System.arraycopy(a, token * c, r, 0, c);
        return r;
    }

    private void checkToken(int token) {
        if (token < 0 || token >= routing.numTokens()) {
            throw new IndexOutOfBoundsException("token " + token + " outside [0, " + routing.numTokens() + ")");
        }
    }

    /** The chosen slots of token t as {@code e3:0.612 ~e5:0.388} (see the class comment). */
    public String choices(int token) {
        checkToken(token);
        int k = routing.topK();
        StringBuilder b = new StringBuilder();
        int shown = 0;
        for (int j = 0; j < k; j++) {
            int p = token * k + j;
            if (!routing.isSelected(p)) continue;
            if (routing.router().startsWith("expert choice") && routing.isDropped(p)) continue;   // k = E slots, most unused
            if (shown++ > 0) b.append(' ');
            if (routing.isNull(p)) b.append("null");
            else b.append(routing.isDropped(p) ? "~e" : "e").append(routing.expertIds()[p]);
            b.append(':').append(Fmt.fixed(weights[p], 3));
        }
        return shown == 0 ? "-" : b.toString();
    }

    /** The experts listed for token t: all when E' is small, else the best-scoring ones. */
    private int[] shownExperts(int token) {
        int c = columns();
        if (c <= MAX_COLUMNS) {
            int[] all = new int[c];
            for (int e = 0; e < c; e++) all[e] = e;
            return all;
        }
        Integer[] order = new Integer[c];
        for (int e = 0; e < c; e++) order[e] = e;
        double[] s = scores != null ? scores : logits;
        java.util.Arrays.sort(order, (a, b) -> Double.compare(s[token * c + b], s[token * c + a]));
        int[] best = new int[MAX_COLUMNS];
        for (int i = 0; i < MAX_COLUMNS; i++) best[i] = order[i];
        return best;
    }

    /** The stage as a table (the first {@code maxTokens} tokens). */
    public TextTable table() {
        int c = columns();
        if (c == 0) {
            TextTable t = new TextTable("token", "chosen (expert:weight)");
            t.title("1. router: " + routing.router() + " has no logits: it picks experts without a learned score (hash of the token id),"
                    + " gate weights fixed\n   T = " + routing.numTokens() + ", E = " + routing.numExperts() + ", k = " + routing.topK());
            int n = Math.min(maxTokens, routing.numTokens());
            for (int tok = 0; tok < n; tok++) t.row(tok, choices(tok));
            if (routing.numTokens() > n) t.note("... " + (routing.numTokens() - n) + " more tokens (--token N follows one of them)");
            t.note("~ marks a slot that its expert's capacity dropped (see stage 2)");
            return t;
        }
        boolean wide = c > MAX_COLUMNS;
        TextTable t = new TextTable("token", wide ? "best experts: logit" : "logits " + Fmt.shape(routing.numTokens(), c),
                wide ? "score" : "scores", "chosen (expert:weight)");
        String choice = routing.router().startsWith("expert choice") ? "each expert takes its best tokens (a column-wise top-c)" : "top-k per token";
        t.title("1. router: logits = x W_router^T [T, E'], scores = " + scoreName() + "(logits), " + choice + " -> expert ids and gate weights [T, k]"
                + "\n   router: " + routing.router() + ", T = " + routing.numTokens() + ", E = " + routing.numExperts()
                + (routing.numNullExperts() > 0 ? " + " + routing.numNullExperts() + " null" : "") + ", k = " + routing.topK());
        int n = Math.min(maxTokens, routing.numTokens());
        for (int tok = 0; tok < n; tok++) {
            int[] shown = shownExperts(tok);
            StringBuilder l = new StringBuilder(), s = new StringBuilder();
            for (int i = 0; i < shown.length; i++) {
                int e = shown[i];
                String sep = i == 0 ? "" : " ";
                l.append(sep).append(wide ? "e" + e + ":" : "").append(pad(Fmt.num(logits[tok * c + e])));
                s.append(sep).append(scores == null ? "-" : pad(Fmt.num(scores[tok * c + e])));
            }
            t.row(tok, l.toString(), s.toString(), choices(tok));
        }
        if (routing.numTokens() > n) t.note("... " + (routing.numTokens() - n) + " more tokens (--token N follows one of them)");
        if (routing.selectionBias() != null) {
            t.note("selection bias (added to the scores for the choice only, not to the weights): " + Fmt.vector(routing.selectionBias(), 16));
        }
        t.note("~ marks a slot that its expert's capacity dropped (see stage 2)");
        return t;
    }

    private static String pad(String s) {
        return s.length() >= 7 ? s : " ".repeat(7 - s.length()) + s;
    }

    private String scoreName() {
        String r = routing.router().toLowerCase(java.util.Locale.ROOT);
        if (r.contains("deepseek") || r.contains("sigmoid")) return "sigmoid";
        return "softmax";
    }

    @Override
    public String toString() { return table().toString(); }
}
