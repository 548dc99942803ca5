package dev.moe4j.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.moe4j.kernels.cpu.BinaryOp;
import dev.moe4j.kernels.cpu.CompareOp;
import dev.moe4j.kernels.cpu.UnaryOp;
import dev.moe4j.kernels.cuda.CudaElementwise.Operand;
import dev.moe4j.kernels.cuda.CudaElementwise.Type;

import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * The host side of the elementwise launchers, on any machine: dim merging, the layout struct, the
 * vector-path choice, and the argument checks that run before anything is enqueued. Buffers are
 * host-side stand-ins of a given size (no device memory behind them).
 */
class CudaElementwiseChecksTest {

    static DeviceBuffer bytes(long n) { return new DeviceBuffer(null, null, null, 0, n); }

    static DeviceBuffer at(long offset, long n) { return new DeviceBuffer(null, null, null, offset, n); }

    @Test
    void opCodesAreTheEnumOrdinalsTheKernelsSwitchOn() {
        // elementwise.cu switches on these numbers; a reordered enum would silently change the op.
        assertThat(UnaryOp.values()).extracting(Enum::name).containsExactly("NEG", "ABS", "EXP", "LOG", "SQRT", "RSQRT", "RELU",
                "GELU", "GELU_TANH", "SILU", "SIGMOID", "TANH");
        assertThat(BinaryOp.values()).extracting(Enum::name).containsExactly("ADD", "SUB", "MUL", "DIV", "POW", "MAXIMUM", "MINIMUM");
        assertThat(CompareOp.values()).extracting(Enum::name).containsExactly("EQ", "NE", "LT", "LE", "GT", "GE");
        assertThat(CudaElementwise.LAYOUT_INTS).isEqualTo(42);                  // struct Layout: 2 + 8 + 4 * 8 ints
    }

    @Test
    void mergingFusesContiguousDimsAndDropsOnes() {
        // dense [2, 3, 4] with a broadcast [1, 3, 1]-style input: only the dims where both fuse merge
        int[][] m = CudaElementwise.merge(new int[] {2, 3, 4}, new int[] {12, 4, 1}, new int[] {0, 1, 0});
        assertThat(m.length).isEqualTo(3);
        m = CudaElementwise.merge(new int[] {2, 3, 4}, new int[] {12, 4, 1}, new int[] {12, 4, 1});
        assertThat(m.length).isEqualTo(1);
        assertThat(m[0][0]).isEqualTo(24);
        // a transposed [4, 3] view of a dense [3, 4] keeps both dims
        assertThat(CudaElementwise.mergedRank(new int[] {4, 3}, new int[] {1, 4}, new int[] {3, 1})).isEqualTo(2);
        // size-1 dims vanish, an all-ones shape still has one dim
        assertThat(CudaElementwise.mergedRank(new int[] {1, 5, 1}, new int[] {7, 1, 99})).isEqualTo(1);
        assertThat(CudaElementwise.mergedRank(new int[] {1, 1}, new int[] {0, 0})).isEqualTo(1);
        // a row slice of a wider matrix: [3, 4] out of [3, 10]
        assertThat(CudaElementwise.mergedRank(new int[] {3, 4}, new int[] {10, 1}, new int[] {4, 1})).isEqualTo(2);
        // broadcast on both dims of a stride-0 operand fuses
        assertThat(CudaElementwise.mergedRank(new int[] {3, 4}, new int[] {0, 0}, new int[] {4, 1})).isEqualTo(1);
    }

    @Test
    void mergedOffsetsAddressTheSameElementsAsTheOriginalStrides() {
        Random r = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            int rank = 1 + r.nextInt(5);
            int[] shape = new int[rank];
            for (int d = 0; d < rank; d++) shape[d] = 1 + r.nextInt(4);
            int[][] st = new int[3][rank];
            for (int k = 0; k < 3; k++) {
                int[] perm = randomPermutation(r, rank);
                int s = 1 + r.nextInt(2);
                for (int i = rank - 1; i >= 0; i--) {               // a permuted dense layout, maybe broadcast
                    int d = perm[i];
                    st[k][d] = r.nextInt(6) == 0 ? 0 : s;
                    s *= shape[d] + r.nextInt(2);
                }
            }
            int[][] m = CudaElementwise.merge(shape, st);
            int n = 1;
            for (int v : shape) n *= v;
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < 3; k++) assertThat(offset(m, k, i)).isEqualTo(original(shape, st[k], i));
            }
        }
    }

    private static int[] randomPermutation(Random r, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** The kernels' offset computation (innermost merged dim first). */
    private static long offset(int[][] m, int k, int i) {
        long o = 0;
        for (int d = m.length - 1; d >= 0; d--) {
            o += (long) (i % m[d][0]) * m[d][1 + k];
            i /= m[d][0];
        }
        return o;
    }

    private static long original(int[] shape, int[] st, int i) {
        long o = 0;
        for (int d = shape.length - 1; d >= 0; d--) {
            o += (long) (i % shape[d]) * st[d];
            i /= shape[d];
        }
        return o;
    }

    @Test
    void theLayoutStructAndTheVectorPath() {
        DeviceBuffer big = bytes(1 << 20);
        int[] shape = {6, 5};
        var p = CudaElementwise.prepare("t", shape, true, Operand.dense(big, Type.F32, shape), Operand.dense(big, Type.BF16, shape));
        assertThat(p.n()).isEqualTo(30);
        assertThat(p.layout()[0]).isEqualTo(1);                  // fused to one dim
        assertThat(p.layout()[1]).isEqualTo(1);                  // dense and aligned: vectors
        assertThat(p.layout()[2]).isEqualTo(30);
        assertThat(p.perThread()).isEqualTo(4);                  // 16 bytes of the widest (float)
        // misaligned start (a slice 4 bytes in) turns the vector path off
        p = CudaElementwise.prepare("t", shape, true, Operand.dense(big, Type.F32, shape), Operand.dense(at(4, 1 << 10), Type.F32, shape));
        assertThat(p.layout()[1]).isZero();
        // a transposed input: two dims, strided path; strides land at [2 + 8 + k*8 + d]
        p = CudaElementwise.prepare("t", new int[] {5, 6}, true, Operand.dense(big, Type.F32, 5, 6), new Operand(big, Type.F32, new int[] {1, 5}));
        assertThat(p.layout()[0]).isEqualTo(2);
        assertThat(p.layout()[1]).isZero();
        assertThat(new int[] {p.layout()[10], p.layout()[11], p.layout()[18], p.layout()[19]}).containsExactly(6, 1, 1, 5);
        // nothing to do for an empty shape
        assertThat(CudaElementwise.prepare("t", new int[] {0, 3}, true, Operand.dense(bytes(0), Type.F32, 0, 3))).isNull();
    }

    @Test
    void checksNameTheOperandShapeAndBytes() {
        int[] shape = {4, 5};
        DeviceBuffer ok = bytes(4 * 20);
        Operand out = Operand.dense(ok, Type.F32, shape);
        assertThatThrownBy(() -> CudaElementwise.checkBinary(BinaryOp.ADD, shape, out, Operand.dense(bytes(4 * 19), Type.F32, shape), out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("input 2").hasMessageContaining("[4, 5]")
                .hasMessageContaining("80 bytes").hasMessageContaining("76");
        assertThatThrownBy(() -> CudaElementwise.checkBinary(BinaryOp.ADD, shape, out, Operand.dense(ok, Type.BF16, shape), out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BF16").hasMessageContaining("F32");
        assertThatThrownBy(() -> CudaElementwise.checkBinary(BinaryOp.DIV, shape, Operand.dense(ok, Type.I32, shape),
                Operand.dense(ok, Type.I32, shape), Operand.dense(ok, Type.I32, shape)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("DIV");
        assertThatThrownBy(() -> CudaElementwise.checkUnary(UnaryOp.EXP, shape, Operand.dense(ok, Type.I64, shape), Operand.dense(ok, Type.I64, shape)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("EXP").hasMessageContaining("I64");
        assertThat(CudaElementwise.checkUnary(UnaryOp.ABS, shape, Operand.dense(ok, Type.I32, shape), Operand.dense(ok, Type.I32, shape))).isNotNull();
        assertThatThrownBy(() -> CudaElementwise.checkCompare(CompareOp.LT, shape, out, out, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BOOL");
        assertThatThrownBy(() -> CudaElementwise.checkAxpy(shape, Operand.dense(ok, Type.BF16, shape), out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BF16 into F32");
        assertThat(CudaElementwise.checkAxpy(shape, out, Operand.dense(ok, Type.BF16, shape))).isNotNull();
        // rank mismatch, negative stride, overlapping output, negative dim
        assertThatThrownBy(() -> CudaElementwise.checkBinary(BinaryOp.ADD, shape, new Operand(ok, Type.F32, new int[] {1}), out, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank");
        assertThatThrownBy(() -> CudaElementwise.checkBinary(BinaryOp.ADD, shape, new Operand(ok, Type.F32, new int[] {5, -1}), out, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative stride");
        assertThatThrownBy(() -> CudaElementwise.checkBinary(BinaryOp.ADD, shape, out, out, new Operand(ok, Type.F32, new int[] {0, 1})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("several indices");
        assertThatThrownBy(() -> CudaElementwise.checkBinary(BinaryOp.ADD, new int[] {-1, 5}, out, out, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative dim");
        assertThatThrownBy(() -> CudaElementwise.checkBinary(BinaryOp.ADD, shape, null, out, out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null");
        // nine dims that cannot merge
        int[] nine = {2, 2, 2, 2, 2, 2, 2, 2, 2};
        int[] reversed = new int[9];
        for (int d = 0; d < 9; d++) reversed[d] = 1 << d;
        DeviceBuffer b512 = bytes(4 * 512);
        assertThatThrownBy(() -> CudaElementwise.checkUnary(UnaryOp.NEG, nine, new Operand(b512, Type.F32, reversed), Operand.dense(b512, Type.F32, nine)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("9 dims").hasMessageContaining("at most 8");
        assertThatThrownBy(() -> CudaElementwise.copy(shape, 3, ok, out.strides(), ok, out.strides()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 bytes");
    }

    @Test
    void scalarsAreRoundedToTheComputeType() {
        assertThat(CudaElementwise.scalar(Type.F32, 0.1)).isEqualTo(0.1f);
        assertThat(CudaElementwise.scalar(Type.BF16, 2.5)).isEqualTo(2.5f);
        assertThat(CudaElementwise.scalar(Type.I32, -3.7)).isEqualTo(-3L);
        assertThat(CudaElementwise.scalar(Type.I64, 1e30)).isEqualTo(Long.MAX_VALUE);
        assertThat(CudaElementwise.scalar(Type.BOOL, 0.25)).isEqualTo(1L);
        assertThat(CudaElementwise.scalar(Type.BOOL, 0.0)).isEqualTo(0L);
    }
}
