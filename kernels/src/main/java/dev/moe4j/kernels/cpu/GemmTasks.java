package dev.moe4j.kernels.cpu;

import java.util.ArrayList;
import java.util.List;

/**
 * Cuts a batch of independent GEMMs into tasks for {@link Parallel}: the work plan shared by the
 * dense GEMM (a batch of one) and the grouped GEMM (one problem per expert).
 *
 * <p>Problem {@code g} computes {@code C_g[m_g, n]} with depth {@code k_g}; its cost is taken as
 * {@code m_g * n * max(k_g, 1)} (a problem with {@code k_g = 0} still writes its C). A problem
 * whose cost is above the target {@code total / (threads * tasksPerThread)} is cut into row
 * ranges of whole {@code mr} panels, or into column ranges of whole {@code nr} panels when it has
 * too few rows, the ranges balanced to within one panel. Tasks are listed largest first, so that dynamic scheduling ends with the small ones
 * and the threads finish together (longest-processing-time-first).
 */
final class GemmTasks {
    private GemmTasks() {}

    /** Task {@code t} is problem {@code problem[t]}, rows {@code [i0, i1)}, columns {@code [j0, j1)}. */
    record Plan(int[] problem, int[] i0, int[] i1, int[] j0, int[] j1) {
        int size() { return problem.length; }
    }

    /**
     * Plans the tasks. {@code m[g]} and {@code k[g]} are the sizes of problem {@code g}; problems
     * with {@code m[g] == 0} (or {@code n == 0}) get no task.
     */
    static Plan plan(int count, int[] m, int[] k, int n, int threads, int tasksPerThread, int mr, int nr) {
        List<int[]> tasks = new ArrayList<>();
        if (n > 0) {
            double total = 0;
            for (int g = 0; g < count; g++) total += cost(m[g], n, k[g]);
            double target = threads <= 1 ? Double.POSITIVE_INFINITY : total / ((double) threads * tasksPerThread);
            // Below ~1 MFLOP a task is not worth a hand-off; keep such work in one piece.
            target = Math.max(target, 1 << 19);
            for (int g = 0; g < count; g++) {
                if (m[g] == 0) continue;
                double c = cost(m[g], n, k[g]);
                int pieces = (int) Math.min(Integer.MAX_VALUE, Math.ceil(c / target));
                if (pieces <= 1) {
                    tasks.add(new int[] {g, 0, m[g], 0, n});
                } else if (m[g] >= pieces * 2 * mr || m[g] >= n) {
                    for (int[] r : split(m[g], pieces, mr)) tasks.add(new int[] {g, r[0], r[1], 0, n});
                } else {
                    for (int[] r : split(n, pieces, nr)) tasks.add(new int[] {g, 0, m[g], r[0], r[1]});
                }
            }
            tasks.sort((x, y) -> Double.compare(cost(y[2] - y[1], y[4] - y[3], k[y[0]]), cost(x[2] - x[1], x[4] - x[3], k[x[0]])));
        }
        int t = tasks.size();
        int[] problem = new int[t], i0 = new int[t], i1 = new int[t], j0 = new int[t], j1 = new int[t];
        for (int q = 0; q < t; q++) {
            int[] x = tasks.get(q);
            problem[q] = x[0];
            i0[q] = x[1];
            i1[q] = x[2];
            j0[q] = x[3];
            j1[q] = x[4];
        }
        return new Plan(problem, i0, i1, j0, j1);
    }

    /**
     * Cuts {@code [0, extent)} into {@code pieces} ranges made of whole {@code unit}-sized panels,
     * the panel counts differing by at most one (so the pieces cost the same to within a panel).
     */
    static List<int[]> split(int extent, int pieces, int unit) {
        int panels = ceilDiv(extent, unit);
        pieces = Math.min(pieces, panels);
        List<int[]> out = new ArrayList<>(pieces);
        for (int q = 0; q < pieces; q++) {
            int lo = unit * (int) ((long) panels * q / pieces), hi = Math.min(extent, unit * (int) ((long) panels * (q + 1) / pieces));
            out.add(new int[] {lo, hi});
        }
        return out;
    }

    private static double cost(int m, int n, int k) { return (double) m * n * Math.max(k, 1); }

    static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    static int roundUp(int a, int b) { return ceilDiv(a, b) * b; }
}
