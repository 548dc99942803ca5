package dev.moe4j.kernels.cpu.moe;

/**
 * The routing plan: which rows of the expert-sorted activation matrix hold which (token, slot) pairs.
 *
 * <p>Each of the T tokens chose k experts; pair {@code p = t * k + j} is token t's slot j, routed to expert
 * {@code ids[p]}. The plan sorts the kept pairs stably by expert, so that expert e's inputs are the
 * contiguous rows {@code [offsets[e], offsets[e + 1])} of a permuted matrix [R, d] (R = number of kept pairs),
 * and within an expert the pairs stay in pair order (token order, then slot). Grouped GEMM reads
 * {@code offsets}; permute and combine read {@code rowToPair} and {@code pairToRow}.
 *
 * <h2>Arrays</h2>
 * <pre>
 *   demand     [E]      pairs routed to each expert, before any capacity (sum = T * k)
 *   counts     [E]      pairs kept by each expert (= min(demand, C) under a capacity C)
 *   offsets    [E + 1]  exclusive prefix sum of counts; offsets[E] = R
 *   rowToPair  [R]      row -> pair index t * k + j
 *   pairToRow  [T * k]  pair -> row, the inverse of rowToPair; -1 for a dropped pair
 *   dropped    [T*k-R]  the dropped pair indices, increasing
 * </pre>
 * Experts with no tokens have {@code counts[e] = 0} and an empty row range; they are legal everywhere.
 *
 * <h2>Building it: histogram, exclusive scan, scatter</h2>
 * <ol>
 *   <li>histogram: {@code demand[ids[p]]++} over all pairs;</li>
 *   <li>capacity: decide per pair whether it is kept ({@link DropPolicy}); {@code counts[e]} = kept pairs;</li>
 *   <li>exclusive prefix sum: {@code offsets[0] = 0, offsets[e + 1] = offsets[e] + counts[e]};</li>
 *   <li>scatter: a cursor per expert starts at {@code offsets[e]}; pairs are visited in increasing p and each
 *       kept pair takes the next row of its expert: {@code r = cursor[e]++; rowToPair[r] = p; pairToRow[p] = r}.
 *       Visiting pairs in order is what makes the sort stable.</li>
 * </ol>
 * This is O(T * k + E) and already the fast algorithm (the one MegaBlocks and ScatterMoE run on the GPU as
 * sort + histogram + cumsum), so it has a single version. Under {@link DropPolicy#BY_SCORE} an expert over
 * capacity ranks its pairs by (weight falling, pair rising) and keeps the first C.
 *
 * <p>The record holds the arrays themselves, not copies; treat them as read-only. Record equality is by
 * array identity.
 *
 * @param numTokens  T
 * @param topK       k, slots per token
 * @param numExperts E
 * @param capacity   C, the most pairs an expert keeps, or {@link #UNLIMITED}
 */
public record RoutingPlan(int numTokens, int topK, int numExperts, int capacity, int[] demand, int[] counts,
                          int[] offsets, int[] rowToPair, int[] pairToRow, int[] dropped) {

    /** The capacity value meaning "no capacity limit". */
    public static final int UNLIMITED = -1;

    /**
     * Checks that the array lengths agree with T, k, E (the contents are trusted: build plans with
     * {@link #build}).
     *
     * @throws IllegalArgumentException when a size is negative or an array length disagrees
     */
    public RoutingPlan {
        if (numTokens < 0 || topK < 1 || numExperts < 1) {
            throw new IllegalArgumentException("need T >= 0, k >= 1, E >= 1, got T = " + numTokens + ", k = " + topK + ", E = " + numExperts);
        }
        int pairs = pairCount(numTokens, topK);
        if (demand.length != numExperts || counts.length != numExperts || offsets.length != numExperts + 1) {
            throw new IllegalArgumentException("demand, counts, offsets must have E, E, E + 1 = " + numExperts + ", "
                    + numExperts + ", " + (numExperts + 1) + " elements, got " + demand.length + ", " + counts.length + ", " + offsets.length);
        }
        if (pairToRow.length != pairs || rowToPair.length != offsets[numExperts] || rowToPair.length + dropped.length != pairs) {
            throw new IllegalArgumentException("pairToRow [T * k = " + pairs + "] has " + pairToRow.length + ", rowToPair [R = "
                    + offsets[numExperts] + "] has " + rowToPair.length + ", dropped has " + dropped.length + " elements");
        }
    }

    /** R, the number of kept pairs = rows of the permuted matrix. */
    public int numRows() {
        return rowToPair.length;
    }

    /** T * k, the number of (token, slot) pairs. */
    public int numPairs() {
        return pairToRow.length;
    }

    /** The token whose activation fills row r. */
    public int token(int row) {
        return rowToPair[row] / topK;
    }

    /** The slot (0..k-1) of the pair that fills row r. */
    public int slot(int row) {
        return rowToPair[row] % topK;
    }

    /** The row of token t's slot j, or -1 when that pair was dropped. */
    public int rowOf(int token, int slot) {
        return pairToRow[token * topK + slot];
    }

    /** The expert whose row range contains row r (binary search over offsets). */
    public int expertOfRow(int row) {
        if (row < 0 || row >= numRows()) throw new IndexOutOfBoundsException("row " + row + " outside [0, " + numRows() + ")");
        int lo = 0, hi = numExperts - 1;                  // the last e with offsets[e] <= row
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (offsets[mid] <= row) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    // ---------------------------------------------------------------------------------------------
    // building
    // ---------------------------------------------------------------------------------------------

    /**
     * The plan without capacity: every pair is kept.
     *
     * @param expertIds [T, k] expert of each (token, slot)
     * @throws IllegalArgumentException for bad sizes; IndexOutOfBoundsException naming token and slot of an
     *         expert id outside [0, E)
     */
    public static RoutingPlan build(int[] expertIds, int numTokens, int topK, int numExperts) {
        return build(expertIds, null, numTokens, topK, numExperts, UNLIMITED, DropPolicy.BY_POSITION);
    }

    /**
     * The plan with expert capacity C: each expert keeps at most C pairs, chosen by {@code policy}; the
     * others are dropped (their tokens skip that expert; a token whose every slot is dropped passes through
     * the MoE layer with a zero routed output).
     *
     * @param expertIds [T, k] expert of each (token, slot)
     * @param weights   [T, k] gate weights, needed by {@link DropPolicy#BY_SCORE} (may be null otherwise)
     * @param capacity  C >= 0, or {@link #UNLIMITED}
     * @throws IllegalArgumentException for bad sizes, a negative capacity, missing or NaN weights under
     *         BY_SCORE; IndexOutOfBoundsException naming token and slot of an expert id outside [0, E)
     */
    public static RoutingPlan build(int[] expertIds, float[] weights, int numTokens, int topK, int numExperts,
                                    int capacity, DropPolicy policy) {
        if (numTokens < 0 || topK < 1 || numExperts < 1) {
            throw new IllegalArgumentException("need T >= 0, k >= 1, E >= 1, got T = " + numTokens + ", k = " + topK + ", E = " + numExperts);
        }
        int pairs = pairCount(numTokens, topK);
        if (expertIds.length < pairs) {
            throw new IllegalArgumentException("expertIds has " + expertIds.length + " elements, [T, k] = [" + numTokens + ", " + topK + "] needs " + pairs);
        }
        if (capacity < 0 && capacity != UNLIMITED) {
            throw new IllegalArgumentException("capacity must be >= 0 or UNLIMITED (-1), got " + capacity);
        }
        if (policy == null) throw new IllegalArgumentException("policy is null");
        boolean byScore = capacity != UNLIMITED && policy == DropPolicy.BY_SCORE;
        if (byScore) {
            if (weights == null) throw new IllegalArgumentException("DropPolicy.BY_SCORE needs the gate weights [T, k]");
            if (weights.length < pairs) {
                throw new IllegalArgumentException("weights has " + weights.length + " elements, [T, k] = [" + numTokens + ", " + topK + "] needs " + pairs);
            }
            for (int p = 0; p < pairs; p++) {
                if (Float.isNaN(weights[p])) throw new IllegalArgumentException("gate weight is NaN at token " + p / topK + ", slot " + p % topK);
            }
        }
        for (int p = 0; p < pairs; p++) {
            int e = expertIds[p];
            if (e < 0 || e >= numExperts) {
                throw new IndexOutOfBoundsException("expert id " + e + " at token " + p / topK + ", slot " + p % topK
                        + " is outside [0, " + numExperts + ")");
            }
        }

        // 1. histogram
        int[] demand = new int[numExperts];
        for (int p = 0; p < pairs; p++) demand[expertIds[p]]++;

        // 2. capacity: which pairs are kept
        boolean[] kept = null;                            // null: all kept
        int[] counts = demand.clone();
        if (capacity != UNLIMITED) {
            for (int e = 0; e < numExperts; e++) counts[e] = Math.min(demand[e], capacity);
            kept = byScore ? keptByScore(expertIds, weights, pairs, numExperts, capacity, demand)
                           : keptByPosition(expertIds, pairs, numExperts, capacity);
        }

        // 3. exclusive prefix sum
        int[] offsets = new int[numExperts + 1];
        for (int e = 0; e < numExperts; e++) offsets[e + 1] = offsets[e] + counts[e];
        int rows = offsets[numExperts];

        // 4. stable scatter in pair order
        int[] cursor = java.util.Arrays.copyOf(offsets, numExperts);
        int[] rowToPair = new int[rows];
        int[] pairToRow = new int[pairs];
        int[] dropped = new int[pairs - rows];
        int nDropped = 0;
        for (int p = 0; p < pairs; p++) {
            if (kept == null || kept[p]) {
                int r = cursor[expertIds[p]]++;
                rowToPair[r] = p;
                pairToRow[p] = r;
            } else {
                pairToRow[p] = -1;
                dropped[nDropped++] = p;
            }
        }
        return new RoutingPlan(numTokens, topK, numExperts, capacity, demand, counts, offsets, rowToPair, pairToRow, dropped);
    }

    /** BY_POSITION: the first C pairs of each expert in pair order are kept (a running count per expert). */
    private static boolean[] keptByPosition(int[] expertIds, int pairs, int numExperts, int capacity) {
        boolean[] kept = new boolean[pairs];
        int[] seen = new int[numExperts];
        for (int p = 0; p < pairs; p++) kept[p] = seen[expertIds[p]]++ < capacity;
        return kept;
    }

    /**
     * BY_SCORE: experts within capacity keep all their pairs; an expert over capacity sorts its pairs by the
     * key (weight falling, pair rising), packed into one long so a primitive sort does it, and keeps the
     * first C.
     */
    private static boolean[] keptByScore(int[] expertIds, float[] weights, int pairs, int numExperts, int capacity, int[] demand) {
        boolean[] kept = new boolean[pairs];
        int[] start = new int[numExperts + 1];            // pairs of expert e, in pair order, at byExpert[start[e]..]
        for (int e = 0; e < numExperts; e++) start[e + 1] = start[e] + demand[e];
        int[] fill = java.util.Arrays.copyOf(start, numExperts);
        int[] byExpert = new int[pairs];
        for (int p = 0; p < pairs; p++) byExpert[fill[expertIds[p]]++] = p;
        for (int e = 0; e < numExperts; e++) {
            if (demand[e] <= capacity) {
                for (int i = start[e]; i < start[e + 1]; i++) kept[byExpert[i]] = true;
                continue;
            }
            long[] keys = new long[demand[e]];
            for (int i = 0; i < keys.length; i++) {
                int p = byExpert[start[e] + i];
                keys[i] = ((long) -orderedBits(weights[p]) << 32) | p;
            }
            java.util.Arrays.sort(keys);
            for (int i = 0; i < capacity; i++) kept[(int) keys[i]] = true;
        }
        return kept;
    }

    /** An int whose signed order is the order of the (non-NaN) float; -0.0 and 0.0 map to the same value. */
    private static int orderedBits(float w) {
        int bits = Float.floatToIntBits(w == 0f ? 0f : w);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }

    private static int pairCount(int numTokens, int topK) {
        long pairs = (long) numTokens * topK;
        if (pairs > Integer.MAX_VALUE) throw new IllegalArgumentException("T * k = " + numTokens + " * " + topK + " exceeds an array");
        return (int) pairs;
    }

    // ---------------------------------------------------------------------------------------------
    // printing
    // ---------------------------------------------------------------------------------------------

    /** Entries shown per expert (and for the dropped list) before eliding. */
    private static final int SHOWN = 16;

    /**
     * The plan as a table, one line per expert: count (and demand under a capacity), row offset, and the
     * (token.slot) pairs of its rows; then the dropped pairs. Long lists are elided after 16 entries.
     */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        b.append("RoutingPlan[T=").append(numTokens).append(", k=").append(topK).append(", E=").append(numExperts)
                .append(", capacity=").append(capacity == UNLIMITED ? "unlimited" : Integer.toString(capacity))
                .append(", rows=").append(numRows()).append(", dropped=").append(dropped.length).append("]\n");
        b.append(String.format("%6s %6s %6s %6s  %s%n", "expert", "demand", "count", "offset", "rows (token.slot)"));
        for (int e = 0; e < numExperts; e++) {
            b.append(String.format("%6d %6d %6d %6d ", e, demand[e], counts[e], offsets[e]));
            for (int r = offsets[e]; r < offsets[e + 1]; r++) {
                if (r - offsets[e] == SHOWN) {
                    b.append(" ... (").append(offsets[e + 1] - r).append(" more)");
                    break;
                }
                b.append(' ').append(token(r)).append('.').append(slot(r));
            }
            b.append('\n');
        }
        if (dropped.length > 0) {
            b.append("dropped:");
            for (int i = 0; i < dropped.length; i++) {
                if (i == SHOWN) {
                    b.append(" ... (").append(dropped.length - i).append(" more)");
                    break;
                }
                b.append(' ').append(dropped[i] / topK).append('.').append(dropped[i] % topK);
            }
            b.append('\n');
        }
        return b.toString();
    }
}
