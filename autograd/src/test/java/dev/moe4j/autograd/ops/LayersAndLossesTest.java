package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.Tensors;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static dev.moe4j.autograd.GradCheck.assertGradients;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Losses and layer functions: forward against loops written from the definitions, backward by gradient check. */
class LayersAndLossesTest {
    private final Generator gen = new Generator(99);

    /** Cross-entropy of one sample, written from the definition. */
    private static double crossEntropyOfRow(double[] logits, int target, double smoothing) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : logits) max = Math.max(max, v);
        double s = 0;
        for (double v : logits) s += Math.exp(v - max);
        double logZ = max + Math.log(s);
        double meanLogP = 0;
        for (double v : logits) meanLogP += (v - logZ) / logits.length;
        return -(1 - smoothing) * (logits[target] - logZ) - smoothing * meanLogP;
    }

    @Test
    void crossEntropyMatchesItsDefinition() {
        int n = 5, c = 7;
        Tensor logits = Tensors.leaf(gen, n, c);
        long[] t = {3, -100, 0, 6, 3};
        Tensor target = Tensor.of(t, n);
        for (double smoothing : new double[] {0.0, 0.1, 0.3}) {
            double sum = 0;
            double[] per = new double[n];
            int count = 0;
            for (int i = 0; i < n; i++) {
                if (t[i] == -100) continue;
                double[] row = logits.detach().select(0, i).toDoubleArray();
                per[i] = crossEntropyOfRow(row, (int) t[i], smoothing);
                sum += per[i];
                count++;
            }
            Tensor none = F.crossEntropy(logits, target, -100, smoothing, Reduction.NONE);
            assertThat(none.toDoubleArray()).containsExactly(per, within(1e-12));
            assertThat(F.crossEntropy(logits, target, -100, smoothing, Reduction.SUM).item()).isCloseTo(sum, within(1e-12));
            assertThat(F.crossEntropy(logits, target, -100, smoothing, Reduction.MEAN).item()).isCloseTo(sum / count, within(1e-12));
            for (Reduction r : Reduction.values()) {
                assertGradients(in -> F.crossEntropy(in[0], in[1], -100, smoothing, r), logits, target);
            }
        }
        assertGradients(in -> F.crossEntropy(in[0], in[1]), Tensors.transposedLeaf(gen, 4, 3), Tensor.of(new long[] {0, 2, 1, 1}, 4));
    }

    @Test
    void crossEntropyWithEveryTargetIgnoredIsNaNAsInPyTorch() {
        Tensor logits = Tensors.leaf(gen, 2, 3);
        Tensor loss = F.crossEntropy(logits, Tensor.of(new long[] {-100, -100}, 2));
        assertThat(loss.item()).isNaN();
    }

    @Test
    void crossEntropyRejectsBadTargets() {
        Tensor logits = Tensors.leaf(gen, 2, 3);
        assertThatThrownBy(() -> F.crossEntropy(logits, Tensor.of(new long[] {0, 3}, 2)))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("3");
        assertThatThrownBy(() -> F.crossEntropy(logits, Tensor.of(new long[] {0, 1, 2}, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3]");
        assertThatThrownBy(() -> F.crossEntropy(logits, Tensor.of(new double[] {0, 1}, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
    }

    @Test
    void mseLoss() {
        Tensor x = Tensors.leaf(gen, 3, 4), y = Tensors.leaf(gen, 3, 4);
        double[] a = x.toDoubleArray(), b = y.toDoubleArray();
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        assertThat(F.mseLoss(x, y).item()).isCloseTo(s / a.length, within(1e-12));
        assertThat(F.mseLoss(x, y, Reduction.SUM).item()).isCloseTo(s, within(1e-12));
        for (Reduction r : Reduction.values()) assertGradients(in -> F.mseLoss(in[0], in[1], r), x, y);
        assertThatThrownBy(() -> F.mseLoss(x, Tensors.leaf(gen, 4, 3))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[4, 3]");
    }

    @Test
    void layerNorm() {
        int rows = 3, d = 5;
        Tensor x = Tensors.leaf(gen, rows, d), w = Tensors.leaf(gen, d), b = Tensors.leaf(gen, d);
        Tensor y = F.layerNorm(x, new int[] {d}, w, b, 1e-5);
        double[] xs = x.toDoubleArray(), ws = w.toDoubleArray(), bs = b.toDoubleArray(), ys = y.toDoubleArray();
        for (int r = 0; r < rows; r++) {
            double mu = 0, var = 0;
            for (int j = 0; j < d; j++) mu += xs[r * d + j] / d;
            for (int j = 0; j < d; j++) var += (xs[r * d + j] - mu) * (xs[r * d + j] - mu) / d;
            for (int j = 0; j < d; j++) {
                assertThat(ys[r * d + j]).isCloseTo((xs[r * d + j] - mu) / Math.sqrt(var + 1e-5) * ws[j] + bs[j], within(1e-12));
            }
        }
        assertGradients(in -> F.layerNorm(in[0], new int[] {d}, in[1], in[2], 1e-5), x, w, b);
        assertGradients(in -> F.layerNorm(in[0], new int[] {3, 2}, null, null, 1e-5), Tensors.leaf(gen, 2, 3, 2));
        assertGradients(in -> F.layerNorm(in[0], new int[] {4}, in[1], null, 1e-3), Tensors.transposedLeaf(gen, 3, 4), Tensors.leaf(gen, 4));
        assertThatThrownBy(() -> F.layerNorm(x, new int[] {4}, null, null, 1e-5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[4]").hasMessageContaining("[3, 5]");
    }

    @Test
    void rmsNorm() {
        int rows = 3, d = 6;
        Tensor x = Tensors.leaf(gen, rows, d), w = Tensors.leaf(gen, d);
        Tensor y = F.rmsNorm(x, new int[] {d}, w, 1e-6);
        double[] xs = x.toDoubleArray(), ws = w.toDoubleArray(), ys = y.toDoubleArray();
        for (int r = 0; r < rows; r++) {
            double ms = 0;
            for (int j = 0; j < d; j++) ms += xs[r * d + j] * xs[r * d + j] / d;
            for (int j = 0; j < d; j++) assertThat(ys[r * d + j]).isCloseTo(xs[r * d + j] / Math.sqrt(ms + 1e-6) * ws[j], within(1e-12));
        }
        assertGradients(in -> F.rmsNorm(in[0], new int[] {d}, in[1], 1e-6), x, w);
        assertGradients(in -> F.rmsNorm(in[0], new int[] {3}, null, 1e-6), Tensors.stridedLeaf(gen, 2, 2, 3));
    }

    @Test
    void embedding() {
        Tensor w = Tensors.leaf(gen, 5, 3);
        Tensor idx = Tensor.of(new long[] {4, 0, 4, 2}, 2, 2);
        Tensor y = F.embedding(idx, w);
        assertThat(y.shape()).containsExactly(2, 2, 3);
        assertThat(y.detach().select(0, 1).select(0, 0).toDoubleArray()).containsExactly(w.detach().select(0, 4).toDoubleArray());
        Autograd.backward(y, Tensor.ones(DType.F64, 2, 2, 3));
        assertThat(w.grad().detach().select(0, 4).toDoubleArray()).containsExactly(2, 2, 2);
        assertThat(w.grad().detach().select(0, 1).toDoubleArray()).containsExactly(0, 0, 0);
        assertGradients(in -> F.embedding(in[0], in[1]), idx, w);
        assertThatThrownBy(() -> F.embedding(Tensor.of(new long[] {5}, 1), w)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void linear() {
        Tensor x = Tensors.leaf(gen, 2, 3, 4), w = Tensors.leaf(gen, 5, 4), b = Tensors.leaf(gen, 5);
        Tensor y = F.linear(x, w, b);
        assertThat(y.shape()).containsExactly(2, 3, 5);
        assertThat(y.detach().select(0, 1).select(0, 2).getDouble(3)).isCloseTo(
                dot(x.detach().select(0, 1).select(0, 2).toDoubleArray(), w.detach().select(0, 3).toDoubleArray()) + b.getDouble(3), within(1e-12));
        assertGradients(in -> F.linear(in[0], in[1], in[2]), x, w, b);
        assertGradients(in -> F.linear(in[0], in[1], null), Tensors.transposedLeaf(gen, 3, 4), Tensors.transposedLeaf(gen, 2, 4));
        assertGradients(in -> F.linear(in[0], in[1], in[2]), Tensors.leaf(gen, 4), w, b);
        assertThatThrownBy(() -> F.linear(x, Tensors.leaf(gen, 5, 3), null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[5, 3]");
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void swiglu() {
        Tensor x = Tensors.leaf(gen, 3, 4), wg = Tensors.leaf(gen, 6, 4), wu = Tensors.leaf(gen, 6, 4), wd = Tensors.leaf(gen, 4, 6);
        assertGradients(in -> F.swiglu(in[0], in[1], in[2], in[3]), x, wg, wu, wd);
    }

    @Test
    void dropoutKeepsAboutOneMinusPAndScales() {
        int n = 20000;
        double p = 0.3;
        Tensor x = Tensor.ones(DType.F64, n).setRequiresGrad(true);
        Tensor y = F.dropout(x, p, true, new Generator(5));
        double[] ys = y.toDoubleArray();
        int kept = 0;
        for (double v : ys) {
            if (v != 0) {
                kept++;
                assertThat(v).isCloseTo(1 / (1 - p), within(1e-12));
            }
        }
        assertThat(kept / (double) n).isCloseTo(1 - p, within(0.02));
        Autograd.backward(y, Tensor.ones(DType.F64, n));
        assertThat(x.grad().toDoubleArray()).containsExactly(ys, within(0.0));
        // the same generator seed reproduces the mask, so the gradient checks out
        assertGradients(in -> F.dropout(in[0], 0.5, true, new Generator(11)), Tensors.leaf(gen, 3, 4));
        Tensor e = Tensors.leaf(gen, 3);
        assertThat(F.dropout(e, 0.5, false, new Generator(1))).isSameAs(e);
        for (double v : F.dropout(e, 1.0, true, new Generator(1)).toDoubleArray()) assertThat(v).isZero();
        assertThatThrownBy(() -> F.dropout(e, 1.5, true, new Generator(1))).isInstanceOf(IllegalArgumentException.class);
    }
}
