package dev.moe4j.bench.insight;

import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.Routing;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * One token followed through every stage of a {@link StagedPass}: its router logits and scores,
 * the experts it chose, the rows it occupies in the permuted matrix (or why a slot was dropped),
 * its expert rows through the grouped GEMMs, its combine, and after the backward, how its
 * gradient splits into the expert rows and gate weights and comes back to dx.
 *
 * @param token the token
 * @param lines the trace, one line per step
 */
public record TokenTrace(int token, List<String> lines) {

    /** Copies the lines. */
    public TokenTrace {
        lines = List.copyOf(lines);
    }

    static TokenTrace of(StagedPass pass, int t) {
        List<String> out = new ArrayList<>();
        Routing routing = pass.routing();
        RoutingPlan plan = routing.plan();
        int k = plan.topK(), d = pass.hiddenSize();
        RouterView router = pass.router();
        double[] x = pass.inputRow(t);
        double[] w = router.weights(t);
        out.add("token " + t + " through the MoE layer");
        out.add("  input      x[" + t + "] = " + Fmt.vector(x, 8) + "  |x| = " + Fmt.num(Fmt.norm(x, 0, d)));
        if (router.columns() > 0) {
            out.add("1 router     logits[" + t + "] = " + Fmt.vector(router.logits(t), 12));
            double[] s = router.scores(t);
            if (s.length > 0) out.add("             scores[" + t + "] = " + Fmt.vector(s, 12));
        } else {
            out.add("1 router     " + routing.router() + " (no logits)");
        }
        out.add("             chosen: " + router.choices(t));
        out.add("2 plan");
        boolean expertChoice = routing.router().startsWith("expert choice");
        List<Integer> rows = new ArrayList<>();
        for (int j = 0; j < k; j++) {
            int p = t * k + j;
            int r = plan.pairToRow()[p];
            if (r >= 0) {
                int e = plan.expertOfRow(r), lo = plan.offsets()[e], hi = plan.offsets()[e + 1];
                out.add("    slot " + j + " -> expert " + e + ": row " + r + " (expert " + e + " holds rows " + lo + ".." + (hi - 1)
                        + "; this token is its " + ordinal(r - lo + 1) + " of " + (hi - lo) + ")   permute: xPerm[" + r + "] = x[" + t + "]");
                rows.add(j);
            } else if (expertChoice) {
                continue;
            } else if (!routing.isSelected(p)) {
                out.add("    slot " + j + ": not selected (past the top-p threshold)");
            } else if (routing.isNull(p)) {
                out.add("    slot " + j + " -> a null expert: no computation, weight " + Fmt.fixed(w[j], 3) + " adds nothing");
            } else {
                int e = routing.expertIds()[p];
                out.add("    slot " + j + " -> expert " + e + ": DROPPED, expert " + e + " is over its capacity " + plan.capacity()
                        + " (demand " + plan.demand()[e] + ")");
            }
        }
        if (expertChoice && rows.isEmpty()) out.add("    no expert took this token");
        Tensor h = pass.hidden(), a = pass.activated(), yPerm = pass.expertOutputs();
        String up = pass.layer().experts().gated() ? "gate_up_proj" : "up_proj";
        out.add("3 experts");
        for (int j : rows) {
            int r = plan.rowOf(t, j), e = plan.expertOfRow(r);
            if (h == null) {
                out.add("    row " + r + ": yPerm[" + r + "] = experts' override (expert " + e + ")  |yPerm| " + Fmt.num(norm(pass.row(yPerm, r))));
                continue;
            }
            out.add("    row " + r + ": h = xPerm[" + r + "] " + up + "[" + e + "]^T  |h| " + Fmt.num(norm(pass.row(h, r)))
                    + ";  a = act  |a| " + Fmt.num(norm(pass.row(a, r))) + ";  yPerm[" + r + "] = a down_proj[" + e + "]^T  |yPerm| "
                    + Fmt.num(norm(pass.row(yPerm, r))));
        }
        if (rows.isEmpty()) out.add("    (no rows: the routed output of this token is 0)");
        CombineView combine = pass.combine();
        out.add("4 combine    y[" + t + "] = " + combine.terms(t) + "   |y| " + Fmt.num(combine.outputNorm(t)));
        if (pass.sharedOutput() != null) {
            out.add("  shared     + shared expert(x[" + t + "])  |.| " + Fmt.num(norm(pass.row(pass.sharedOutput().detach(), t))));
        }
        if (pass.hasBackward()) {
            double[] dy = pass.row(pass.upstream(), t);
            double[] dw = pass.row(pass.gateWeightsGrad().detach(), t);
            out.add("6 backward   dy[" + t + "]  |dy| " + Fmt.num(norm(dy)));
            for (int j : rows) {
                int r = plan.rowOf(t, j);
                out.add("    combine: dyPerm[" + r + "] = w[" + t + "," + j + "] dy[" + t + "] = " + Fmt.fixed(w[j], 3) + " dy  |.| "
                        + Fmt.num(norm(pass.row(pass.dyPermTensor(), r))) + ";  dw[" + t + "," + j + "] = <dy[" + t + "], yPerm[" + r + "]> = "
                        + Fmt.num(dw[j]));
            }
            out.add("    permute backward: dx[" + t + "] via experts = sum of dxPerm over its rows  |.| "
                    + Fmt.num(norm(pass.row(pass.dxExpertsTensor(), t))));
            if (pass.logitsGrad() != null) out.add("    router backward: dlogits[" + t + "] = " + Fmt.vector(pass.row(pass.logitsGrad().detach(), t), 12));
            if (pass.dxRouterTensor() != null) out.add("    dx[" + t + "] via router  |.| " + Fmt.num(norm(pass.row(pass.dxRouterTensor(), t))));
            if (pass.dxSharedTensor() != null) out.add("    dx[" + t + "] via shared expert  |.| " + Fmt.num(norm(pass.row(pass.dxSharedTensor(), t))));
            Tensor dx = pass.inputGrad();
            out.add("    dx[" + t + "] total  |.| " + Fmt.num(norm(pass.row(dx.reshape(pass.numTokens(), d), t))));
        } else {
            out.add("6 backward   (not run yet: call backward(dy))");
        }
        return new TokenTrace(t, out);
    }

    private static double norm(double[] v) { return Fmt.norm(v, 0, v.length); }

    private static String ordinal(int n) {
        int m100 = n % 100, m10 = n % 10;
        String s = (m100 >= 11 && m100 <= 13) ? "th" : m10 == 1 ? "st" : m10 == 2 ? "nd" : m10 == 3 ? "rd" : "th";
        return n + s;
    }

    @Override
    public String toString() { return String.join("\n", lines) + "\n"; }
}
