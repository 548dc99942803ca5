package dev.moe4j.kernels.cpu;

/**
 * Walks an n-dimensional iteration space one row at a time, for kernels that process a 1-D row
 * (the innermost dim) per call.
 *
 * <p>Several operands share the space; operand k has its own start offset and strides (in
 * elements; 0 for a broadcast dim). Before walking, the space is simplified without changing which
 * elements meet which:
 * <ol>
 *   <li>dims of size 1 are dropped;</li>
 *   <li>neighbouring dims i, i+1 are merged when, for every operand,
 *       {@code stride[i] == stride[i+1] * size[i+1]} (true for contiguous runs and for runs that are
 *       broadcast in every operand).</li>
 * </ol>
 * The longest possible rows result, so a contiguous tensor of any rank is a single row. The outer
 * dims are walked with an odometer; {@link #offset(int)} is operand k's start of the current row and
 * {@link #innerStride(int)} its stride along the row.
 */
final class RowLoop {
    private final int[] outerShape;
    private final int[][] outerStrides;       // [operand][outer dim]
    private final int[] innerStrides;
    private final int[] offsets;
    private final int[] index;
    private final int rowLength;
    private final long rows;

    /**
     * @param shape   the iteration space
     * @param offsets start offset of each operand
     * @param strides strides of each operand, each of {@code shape.length}
     */
    RowLoop(int[] shape, int[] offsets, int[]... strides) {
        int operands = offsets.length;
        if (strides.length != operands) throw new IllegalArgumentException(operands + " offsets but " + strides.length + " stride arrays");
        for (int[] s : strides) {
            if (s.length != shape.length) {
                throw new IllegalArgumentException("strides " + java.util.Arrays.toString(s) + " do not match the rank of shape " + java.util.Arrays.toString(shape));
            }
        }
        long total = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative size in shape " + java.util.Arrays.toString(shape));
            total *= d;
        }
        // 1. drop size-1 dims, 2. merge mergeable neighbours (walking from the innermost dim outwards)
        int[] sh = new int[shape.length];
        int[][] st = new int[operands][shape.length];
        int r = 0;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] == 1) continue;
            if (r > 0 && mergeable(shape[d], d, strides, st, sh[r - 1], r - 1)) {
                sh[r - 1] *= shape[d];
                continue;
            }
            sh[r] = shape[d];
            for (int k = 0; k < operands; k++) st[k][r] = strides[k][d];
            r++;
        }
        // sh/st hold dims innermost first; split into the row (dim 0) and the outer dims
        this.offsets = offsets.clone();
        this.innerStrides = new int[operands];
        if (total == 0) {
            this.rowLength = 0;
            this.rows = 0;
            this.outerShape = new int[0];
            this.outerStrides = new int[operands][0];
        } else if (r == 0) {                                      // a single element
            this.rowLength = 1;
            this.rows = 1;
            this.outerShape = new int[0];
            this.outerStrides = new int[operands][0];
        } else {
            this.rowLength = sh[0];
            this.rows = total / sh[0];
            this.outerShape = new int[r - 1];
            this.outerStrides = new int[operands][r - 1];
            for (int i = 1; i < r; i++) outerShape[r - 1 - i] = sh[i];
            for (int k = 0; k < operands; k++) {
                innerStrides[k] = st[k][0];
                for (int i = 1; i < r; i++) outerStrides[k][r - 1 - i] = st[k][i];
            }
        }
        this.index = new int[outerShape.length];
    }

    /** Whether original dim {@code d} (size {@code size}) folds into the already collected dim {@code j}. */
    private static boolean mergeable(int size, int d, int[][] strides, int[][] collected, int innerSize, int j) {
        for (int k = 0; k < strides.length; k++) {
            if ((long) strides[k][d] != (long) collected[k][j] * innerSize) return false;
        }
        return true;
    }

    /** Length of each row. */
    int rowLength() { return rowLength; }

    /** Number of rows (0 for an empty space, 1 for a single element). */
    long rows() { return rows; }

    /** Operand k's offset of the current row's first element. */
    int offset(int k) { return offsets[k]; }

    /** Operand k's stride along the row. */
    int innerStride(int k) { return innerStrides[k]; }

    /** Moves to the next row (row-major order over the outer dims). */
    void next() {
        for (int d = outerShape.length - 1; d >= 0; d--) {
            index[d]++;
            for (int k = 0; k < offsets.length; k++) offsets[k] += outerStrides[k][d];
            if (index[d] < outerShape[d]) return;
            for (int k = 0; k < offsets.length; k++) offsets[k] -= outerStrides[k][d] * outerShape[d];
            index[d] = 0;
        }
    }

    /** Row-major (contiguous) strides of {@code shape}. */
    static int[] contiguousStrides(int[] shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(shape[i], 1);
        }
        return s;
    }
}
