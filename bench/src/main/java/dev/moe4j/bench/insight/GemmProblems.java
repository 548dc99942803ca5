package dev.moe4j.bench.insight;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Stage 3, the grouped GEMMs of the experts, as a problem list (the descriptor array a grouped
 * GEMM kernel walks, as in CUTLASS's grouped GEMM): expert e multiplies its M_e rows of the
 * permuted matrix by its own weights.
 * <pre>
 *   up   (gate_up_proj): h[rows_e]    = xPerm[rows_e] W_up[e]^T     [M_e, d] x [d, N_up]   N_up = 2f (gated) or f
 *   activation:          a[rows_e]    = act(h_gate) * h_up (gated) or act(h)                 [M_e, f]
 *   down (down_proj):    yPerm[rows_e] = a[rows_e] W_down[e]^T      [M_e, f] x [f, d]
 *   FLOPs per problem: 2 M N K
 * </pre>
 * The backward runs two grouped GEMMs of the same sizes per projection (dX = dY W, dW = dY^T X),
 * so it costs twice the forward FLOPs. Experts with M_e = 0 are empty problems.
 */
public final class GemmProblems {
    /**
     * One expert's problems.
     *
     * @param expert    e
     * @param rows      M_e
     * @param upFlops   2 M_e d N_up
     * @param downFlops 2 M_e f d
     */
    public record Problem(int expert, int rows, long upFlops, long downFlops) {
        /** Both projections. */
        public long flops() { return upFlops + downFlops; }
    }

    private final int hiddenSize, intermediateSize;
    private final boolean gated;
    private final List<Problem> problems;

    /**
     * @param counts           [E] rows per expert (the plan's counts)
     * @param hiddenSize       d
     * @param intermediateSize f
     * @param gated            whether the up projection holds a gate half and an up half (N_up = 2f)
     */
    public GemmProblems(int[] counts, int hiddenSize, int intermediateSize, boolean gated) {
        this.hiddenSize = hiddenSize;
        this.intermediateSize = intermediateSize;
        this.gated = gated;
        List<Problem> list = new ArrayList<>();
        int nUp = upWidth();
        for (int e = 0; e < counts.length; e++) {
            long m = counts[e];
            list.add(new Problem(e, counts[e], 2 * m * hiddenSize * nUp, 2 * m * intermediateSize * hiddenSize));
        }
        this.problems = Collections.unmodifiableList(list);
    }

    /** N_up: 2f for gated experts, f otherwise. */
    public int upWidth() { return gated ? 2 * intermediateSize : intermediateSize; }

    /** The problems, one per expert. */
    public List<Problem> problems() { return problems; }

    /** Total forward FLOPs of both projections. */
    public long forwardFlops() {
        long s = 0;
        for (Problem p : problems) s += p.flops();
        return s;
    }

    /** Total backward FLOPs (dX and dW of both projections): twice the forward. */
    public long backwardFlops() { return 2 * forwardFlops(); }

    /** The problem list as a table. */
    public TextTable table() {
        int d = hiddenSize, f = intermediateSize, n = upWidth();
        TextTable t = new TextTable("expert", "M (rows)", "up: [M,K]x[K,N]", "up FLOPs", "down: [M,K]x[K,N]", "down FLOPs", "share");
        t.title("3. grouped GEMM problem list: expert e multiplies rows offsets[e]..offsets[e+1]-1 by its own weights"
                + "\n   up = gate_up_proj" + (gated ? " (gate half, up half)" : "") + ", then " + (gated ? "a = act(gate) * up" : "a = act(h)")
                + ", then down = down_proj; FLOPs = 2 M N K");
        long total = Math.max(1, forwardFlops());
        for (Problem p : problems) {
            String up = p.rows() == 0 ? "(empty)" : Fmt.shape(p.rows(), d) + "x" + Fmt.shape(d, n);
            String down = p.rows() == 0 ? "(empty)" : Fmt.shape(p.rows(), f) + "x" + Fmt.shape(f, d);
            t.row(p.expert(), p.rows(), up, Fmt.count(p.upFlops()), down, Fmt.count(p.downFlops()),
                    Fmt.fixed(100.0 * p.flops() / total, 1) + "%");
        }
        t.note("forward " + Fmt.flops(forwardFlops()) + "; backward (dX and dW per projection) " + Fmt.flops(backwardFlops()));
        return t;
    }

    @Override
    public String toString() { return table().toString(); }
}
