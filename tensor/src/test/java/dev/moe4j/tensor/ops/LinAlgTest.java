package dev.moe4j.tensor.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.moe4j.kernels.cpu.Parallel;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link LinAlg#matmul} against a naive loop over {@code torch.matmul}'s rules. */
class LinAlgTest {
    /** Relative tolerances per dtype: |got - want| <= tol * (1 + sum_p |a||b|). */
    private static double tolerance(DType dtype) {
        return switch (dtype) {
            case F64 -> 1e-12;
            case F32 -> 1e-5;
            case BF16 -> 1e-2;      // result rounded to 8 significant bits
            default -> 2e-3;        // F16: 11 significant bits
        };
    }

    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() { Parallel.setThreads(savedThreads); }

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of(new int[] {7}, new int[] {7}, new int[] {}),
                Arguments.of(new int[] {1}, new int[] {1}, new int[] {}),
                Arguments.of(new int[] {3, 5}, new int[] {5, 4}, new int[] {3, 4}),
                Arguments.of(new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}),
                Arguments.of(new int[] {13, 29}, new int[] {29, 33}, new int[] {13, 33}),
                Arguments.of(new int[] {5}, new int[] {5, 3}, new int[] {3}),
                Arguments.of(new int[] {3, 5}, new int[] {5}, new int[] {3}),
                Arguments.of(new int[] {4}, new int[] {2, 4, 3}, new int[] {2, 3}),
                Arguments.of(new int[] {2, 3, 4}, new int[] {4}, new int[] {2, 3}),
                Arguments.of(new int[] {2, 3, 4}, new int[] {4, 6}, new int[] {2, 3, 6}),
                Arguments.of(new int[] {3, 4}, new int[] {2, 4, 6}, new int[] {2, 3, 6}),
                Arguments.of(new int[] {2, 1, 3, 4}, new int[] {5, 4, 6}, new int[] {2, 5, 3, 6}),
                Arguments.of(new int[] {1, 3, 4}, new int[] {2, 4, 6}, new int[] {2, 3, 6}),
                Arguments.of(new int[] {0, 3}, new int[] {3, 4}, new int[] {0, 4}),
                Arguments.of(new int[] {3, 0}, new int[] {0, 4}, new int[] {3, 4}),
                Arguments.of(new int[] {3, 2}, new int[] {2, 0}, new int[] {3, 0}),
                Arguments.of(new int[] {0, 3, 2}, new int[] {2, 5}, new int[] {0, 3, 5}),
                Arguments.of(new int[] {0}, new int[] {0}, new int[] {}),
                Arguments.of(new int[] {3, 40, 50}, new int[] {50, 61}, new int[] {3, 40, 61}),
                Arguments.of(new int[] {64, 3, 5}, new int[] {64, 5, 2}, new int[] {64, 3, 2}));
    }

    @ParameterizedTest(name = "{0} x {1}")
    @MethodSource("shapes")
    void matchesNaiveLoopForEveryDtype(int[] sa, int[] sb, int[] expected) {
        for (DType dtype : new DType[] {DType.F32, DType.F64, DType.BF16, DType.F16}) {
            Generator g = new Generator(Arrays.hashCode(sa) * 31L + Arrays.hashCode(sb));
            Tensor a = Tensor.randn(g, dtype, sa), b = Tensor.randn(g, dtype, sb);
            Tensor c = LinAlg.matmul(a, b);
            assertThat(c.shape()).as("shape for %s", dtype).containsExactly(expected);
            assertThat(c.dtype()).isEqualTo(dtype);
            assertMatchesNaive(a, b, c);
        }
    }

    @ParameterizedTest(name = "{0} x {1}")
    @MethodSource("shapes")
    void twoThreadsGiveTheSameAnswer(int[] sa, int[] sb, int[] expected) {
        Parallel.setThreads(2);
        Generator g = new Generator(5);
        Tensor a = Tensor.randn(g, DType.F32, sa), b = Tensor.randn(g, DType.F32, sb);
        assertMatchesNaive(a, b, LinAlg.matmul(a, b));
    }

    @Test
    void transposedViewsAreMultipliedInPlace() {
        Generator g = new Generator(11);
        Tensor a = Tensor.randn(g, DType.F32, 37, 19), w = Tensor.randn(g, DType.F32, 23, 19);
        Tensor at = Tensor.randn(g, DType.F32, 19, 37);
        float[] wBefore = w.toFloatArray();
        // A * W^T (nn.Linear), A^T^T * W^T, and batched transposes
        assertMatchesNaive(a, w.mT(), LinAlg.matmul(a, w.mT()));
        assertMatchesNaive(at.mT(), w.mT(), LinAlg.matmul(at.mT(), w.mT()));
        Tensor x = Tensor.randn(g, DType.F64, 3, 4, 6), y = Tensor.randn(g, DType.F64, 3, 5, 6);
        assertMatchesNaive(x, y.mT(), LinAlg.matmul(x, y.mT()));
        assertMatchesNaive(y.transpose(1, 2).mT(), x.mT(), LinAlg.matmul(y.transpose(1, 2).mT(), x.mT()));
        assertThat(w.toFloatArray()).containsExactly(wBefore);
    }

    @Test
    void batchSharingOneWeightIsFoldedCorrectly() {
        Generator g = new Generator(12);
        Tensor x = Tensor.randn(g, DType.F32, 4, 9, 16), w = Tensor.randn(g, DType.F32, 10, 16);
        assertMatchesNaive(x, w.mT(), LinAlg.matmul(x, w.mT()));
        // rows of the batch not at one stride (a sliced batch): not folded, still right
        Tensor xs = x.narrow(1, 2, 5);
        assertMatchesNaive(xs, w.mT(), LinAlg.matmul(xs, w.mT()));
        // a broadcast left operand and an expanded row
        Tensor row = Tensor.randn(g, DType.F32, 1, 16).expand(6, 16);
        assertMatchesNaive(row, w.mT(), LinAlg.matmul(row, w.mT()));
    }

    @Test
    void stridedViewsWithoutUnitStrideAreCopiedFirst() {
        Generator g = new Generator(13);
        Tensor big = Tensor.randn(g, DType.F32, 20, 30);
        Tensor a = big.slice(0, 1, 20, 2).slice(1, 0, 30, 3);      // [10, 10], strides (60, 3)
        Tensor b = Tensor.randn(g, DType.F32, 30, 40).slice(0, 0, 30, 3).slice(1, 1, 40, 2);
        assertThat(a.strides()).doesNotContain(1);
        assertMatchesNaive(a, b, LinAlg.matmul(a, b));
    }

    @Test
    void badOperandsAreRejectedNamingTheShapes() {
        Tensor a = Tensor.zeros(2, 3), b = Tensor.zeros(4, 5);
        assertThatThrownBy(() -> LinAlg.matmul(a, b)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[2, 3]").hasMessageContaining("[4, 5]");
        assertThatThrownBy(() -> LinAlg.matmul(Tensor.zeros(2, 2, 3), Tensor.zeros(3, 3, 1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[2, 2, 3]").hasMessageContaining("[3, 3, 1]").hasMessageContaining("broadcast");
        assertThatThrownBy(() -> LinAlg.matmul(Tensor.scalar(DType.F32, 1), Tensor.zeros(3))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one dim");
        assertThatThrownBy(() -> LinAlg.matmul(Tensor.zeros(DType.I64, 2, 2), Tensor.zeros(DType.I64, 2, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I64");
        assertThatThrownBy(() -> LinAlg.matmul(Tensor.zeros(DType.F32, 2, 2), Tensor.zeros(DType.F64, 2, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32").hasMessageContaining("F64");
        assertThatThrownBy(() -> LinAlg.matmul(Tensor.zeros(3), Tensor.zeros(4))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[3]").hasMessageContaining("[4]");
    }

    @Test
    void tensorMatmulDelegatesHere() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2), b = Tensor.of(new float[] {5, 6, 7, 8}, 2, 2);
        assertThat(a.matmul(b).toFloatArray()).containsExactly(19, 22, 43, 50);
    }

    // ------------------------------------------------------------------ the naive reference

    /**
     * Computes {@code torch.matmul(a, b)} element by element in double, straight from the rules:
     * promote 1-D operands, broadcast the batch dims, one dot product per output element, then
     * drop the promoted dims; compares with {@code c}.
     */
    private static void assertMatchesNaive(Tensor a, Tensor b, Tensor c) {
        Tensor a2 = a.rank() == 1 ? a.unsqueeze(0) : a, b2 = b.rank() == 1 ? b.unsqueeze(1) : b;
        int m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
        int[] batch = Shape.broadcast(Arrays.copyOf(a2.shape(), a2.rank() - 2), Arrays.copyOf(b2.shape(), b2.rank() - 2));
        int[] sa = Arrays.copyOf(batch, batch.length + 2), sb = sa.clone();
        sa[batch.length] = m; sa[batch.length + 1] = k;
        sb[batch.length] = k; sb[batch.length + 1] = n;
        Tensor ea = a2.expand(sa), eb = b2.expand(sb);
        int[] sc = Arrays.copyOf(batch, batch.length + 2);
        sc[batch.length] = m; sc[batch.length + 1] = n;
        Tensor c2 = c.reshape(sc);
        double tol = tolerance(c.dtype());
        int count = (int) Shape.numel(batch);
        int[] idx = new int[batch.length];
        for (int q = 0; q < count; q++) {
            int rem = q;
            for (int d = batch.length - 1; d >= 0; d--) { idx[d] = rem % batch[d]; rem /= batch[d]; }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double dot = 0, mag = 0;
                    for (int p = 0; p < k; p++) {
                        double x = ea.getDouble(at(idx, i, p)), y = eb.getDouble(at(idx, p, j));
                        dot += x * y;
                        mag += Math.abs(x * y);
                    }
                    double got = c2.getDouble(at(idx, i, j));
                    if (!(Math.abs(got - dot) <= tol * (1 + mag))) {
                        fail("matmul " + Shape.str(a.shape()) + " x " + Shape.str(b.shape()) + " (" + c.dtype() + ") at batch "
                                + Arrays.toString(idx) + " [" + i + ", " + j + "]: got " + got + ", expected " + dot);
                    }
                }
            }
        }
    }

    private static int[] at(int[] batch, int i, int j) {
        int[] r = Arrays.copyOf(batch, batch.length + 2);
        r[batch.length] = i;
        r[batch.length + 1] = j;
        return r;
    }
}
