package dev.moe4j.autograd.ops;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.Tensors;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.BinaryOperator;
import java.util.function.UnaryOperator;

import static dev.moe4j.autograd.GradCheck.assertGradients;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every differentiable op against float64 central differences, on random shapes (odd sizes),
 * broadcast shapes and non-contiguous views.
 */
class OpsGradCheckTest {
    private final Generator gen = new Generator(2024);

    /** A random shape of rank 1..3 with sizes 1..4. */
    private int[] randomShape() {
        int r = 1 + gen.nextInt(3);
        int[] s = new int[r];
        for (int i = 0; i < r; i++) s[i] = 1 + gen.nextInt(4);
        return s;
    }

    private void checkUnary(UnaryOperator<Tensor> f, double lo, double hi) {
        for (int trial = 0; trial < 3; trial++) {
            int[] shape = randomShape();
            Tensor x = lo == hi ? Tensors.leaf(gen, shape) : Tensors.uniformLeaf(gen, lo, hi, shape);
            assertGradients(in -> f.apply(in[0]), x);
        }
        Tensor xt = lo == hi ? Tensors.transposedLeaf(gen, 3, 4) : positive(Tensors.transposedLeaf(gen, 3, 4), lo, hi);
        assertThat(xt.isContiguous()).isFalse();
        assertGradients(in -> f.apply(in[0]), xt);
    }

    /** Maps a view's values into [lo, hi) in place, keeping its layout. */
    private static Tensor positive(Tensor view, double lo, double hi) {
        view.detach().copyFrom(view.detach().sigmoid().mul(hi - lo).add(lo));
        return view;
    }

    private void checkBinary(BinaryOperator<Tensor> f, boolean positiveB) {
        int[][][] shapes = {
            {{3, 4}, {3, 4}},
            {{2, 3, 4}, {4}},
            {{3, 1}, {1, 5}},
            {{4, 1, 3}, {2, 1}},
            {{1}, {2, 3}},
        };
        for (int[][] s : shapes) {
            Tensor a = Tensors.leaf(gen, s[0]);
            Tensor b = positiveB ? Tensors.uniformLeaf(gen, 0.5, 2.0, s[1]) : Tensors.leaf(gen, s[1]);
            assertGradients(in -> f.apply(in[0], in[1]), a, b);
        }
        Tensor a = Tensors.transposedLeaf(gen, 3, 5);
        Tensor b = positiveB ? positive(Tensors.stridedLeaf(gen, 3, 5), 0.5, 2.0) : Tensors.stridedLeaf(gen, 3, 5);
        assertGradients(in -> f.apply(in[0], in[1]), a, b);
        // only one side requires a gradient
        Tensor c = Tensors.leaf(gen, 2, 3);
        Tensor d = positiveB ? Tensors.uniformLeaf(gen, 0.5, 2.0, 3).setRequiresGrad(false) : Tensor.randn(gen, DType.F64, 3);
        assertGradients(in -> f.apply(in[0], in[1]), c, d);
    }

    @Test void add() { checkBinary(F::add, false); }
    @Test void sub() { checkBinary(F::sub, false); }
    @Test void mul() { checkBinary(F::mul, false); }
    @Test void div() { checkBinary(F::div, true); }
    @Test void maximum() { checkBinary(F::maximum, false); }
    @Test void minimum() { checkBinary(F::minimum, false); }

    @Test
    void pow() {
        Tensor a = Tensors.uniformLeaf(gen, 0.5, 2.0, 3, 4);
        Tensor b = Tensors.leaf(gen, 4);
        assertGradients(in -> F.pow(in[0], in[1]), a, b);
        assertGradients(in -> F.pow(in[0], 3.0), Tensors.leaf(gen, 2, 3));
        assertGradients(in -> F.pow(in[0], -1.5), Tensors.uniformLeaf(gen, 0.5, 2.0, 5));
        assertGradients(in -> F.square(in[0]), Tensors.transposedLeaf(gen, 2, 3));
    }

    @Test
    void powAtZeroBaseHasAFiniteExponentGradient() {
        Tensor a = Tensor.of(new double[] {0.0, 2.0}, 2);
        Tensor b = Tensor.of(new double[] {2.0, 3.0}, 2).setRequiresGrad(true);
        Tensor g = dev.moe4j.autograd.Autograd.grad(F.sum(F.pow(a, b)), null, false, b)[0];
        assertThat(g.toDoubleArray()[0]).isEqualTo(0.0);
        assertThat(g.toDoubleArray()[1]).isCloseTo(8 * Math.log(2), org.assertj.core.api.Assertions.within(1e-12));
    }

    @Test
    void maximumSplitsTiesInHalves() {
        Tensor a = Tensor.of(new double[] {1, 2, 3}, 3).setRequiresGrad(true);
        Tensor b = Tensor.of(new double[] {1, 5, 0}, 3).setRequiresGrad(true);
        dev.moe4j.autograd.Autograd.backward(F.sum(F.maximum(a, b)));
        assertThat(a.grad().toDoubleArray()).containsExactly(0.5, 0, 1);
        assertThat(b.grad().toDoubleArray()).containsExactly(0.5, 1, 0);
    }

    @Test
    void scalarOps() {
        assertGradients(in -> F.add(in[0], 2.5), Tensors.leaf(gen, 3, 2));
        assertGradients(in -> F.sub(in[0], 2.5), Tensors.leaf(gen, 3, 2));
        assertGradients(in -> F.rsub(2.5, in[0]), Tensors.leaf(gen, 3, 2));
        assertGradients(in -> F.mul(in[0], -1.5), Tensors.leaf(gen, 3, 2));
        assertGradients(in -> F.div(in[0], 4.0), Tensors.transposedLeaf(gen, 3, 2));
    }

    @Test void neg() { checkUnary(F::neg, 0, 0); }
    @Test void abs() { checkUnary(F::abs, 0, 0); }
    @Test void exp() { checkUnary(F::exp, 0, 0); }
    @Test void log() { checkUnary(F::log, 0.2, 3); }
    @Test void sqrt() { checkUnary(F::sqrt, 0.2, 3); }
    @Test void rsqrt() { checkUnary(F::rsqrt, 0.2, 3); }
    @Test void relu() { checkUnary(F::relu, 0, 0); }
    @Test void gelu() { checkUnary(F::gelu, 0, 0); }
    @Test void geluTanh() { checkUnary(F::geluTanh, 0, 0); }
    @Test void silu() { checkUnary(F::silu, 0, 0); }
    @Test void sigmoid() { checkUnary(F::sigmoid, 0, 0); }
    @Test void tanh() { checkUnary(F::tanh, 0, 0); }

    @Test
    void geluAtZero() {
        Tensor x = Tensor.of(new double[] {0.0, -8.0, 8.0}, 3).setRequiresGrad(true);
        Tensor g = dev.moe4j.autograd.Autograd.grad(F.sum(F.gelu(x)), null, false, x)[0];
        assertThat(g.toDoubleArray()[0]).isEqualTo(0.5);
        assertThat(g.toDoubleArray()[1]).isCloseTo(0.0, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(g.toDoubleArray()[2]).isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-12));
    }

    @Test
    void softmaxAndLogSoftmax() {
        for (int dim : new int[] {0, 1, -1}) {
            assertGradients(in -> F.softmax(in[0], dim), Tensors.leaf(gen, 3, 5));
            assertGradients(in -> F.logSoftmax(in[0], dim), Tensors.leaf(gen, 3, 5));
        }
        assertGradients(in -> F.softmax(in[0], 1), Tensors.transposedLeaf(gen, 2, 4, 3));
        assertGradients(in -> F.logSoftmax(in[0], -1), Tensors.stridedLeaf(gen, 2, 4));
    }

    @Test
    void reductions() {
        Tensor x = Tensors.leaf(gen, 2, 3, 4);
        assertGradients(in -> F.sum(in[0]), x);
        assertGradients(in -> F.sum(in[0], 1, false), x);
        assertGradients(in -> F.sum(in[0], new int[] {0, 2}, true), x);
        assertGradients(in -> F.mean(in[0]), x);
        assertGradients(in -> F.mean(in[0], -1, true), x);
        assertGradients(in -> F.mean(in[0], new int[] {0, 1}, false), x);
        assertGradients(in -> F.logsumexp(in[0], 1, false), x);
        assertGradients(in -> F.logsumexp(in[0], 2, true), x);
        assertGradients(in -> F.var(in[0], new int[] {2}, 1, false), x);
        assertGradients(in -> F.var(in[0], new int[] {0, 2}, 0, true), x);
        assertGradients(in -> F.var(in[0], null, 1, false), x);
        Tensor t = Tensors.transposedLeaf(gen, 3, 4);
        assertGradients(in -> F.sum(in[0], 0, false), t);
        assertGradients(in -> F.mean(in[0], 1, true), t);
        assertGradients(in -> F.logsumexp(in[0], 0, true), t);
    }

    @Test
    void maxAndMinOverADim() {
        Tensor x = Tensors.leaf(gen, 3, 5);
        assertGradients(in -> F.max(in[0], 1, false), x);
        assertGradients(in -> F.max(in[0], 0, true), x);
        assertGradients(in -> F.min(in[0], -1, false), x);
        assertGradients(in -> F.max(in[0]), x);
        assertGradients(in -> F.min(in[0]), Tensors.transposedLeaf(gen, 3, 4));
    }

    @Test
    void matmul() {
        int[][][] shapes = {
            {{3, 4}, {4, 2}},
            {{2, 3, 4}, {2, 4, 5}},
            {{2, 3, 4}, {4, 5}},
            {{3, 4}, {2, 4, 5}},
            {{2, 1, 3, 4}, {3, 4, 2}},
            {{4}, {4, 3}},
            {{2, 3, 4}, {4}},
            {{4}, {4}},
        };
        for (int[][] s : shapes) {
            assertGradients(in -> F.matmul(in[0], in[1]), Tensors.leaf(gen, s[0]), Tensors.leaf(gen, s[1]));
        }
        assertGradients(in -> F.matmul(in[0], in[1]), Tensors.transposedLeaf(gen, 3, 4), Tensors.transposedLeaf(gen, 4, 5));
        assertGradients(in -> F.matmul(in[0], in[1]), Tensors.stridedLeaf(gen, 2, 3), Tensor.randn(gen, DType.F64, 3, 2));
    }

    @Test
    void indexing() {
        Tensor x = Tensors.leaf(gen, 5, 3);
        Tensor idx = Tensor.of(new long[] {4, 0, 0, 2, 4, 4}, 6);
        assertGradients(in -> F.indexSelect(in[0], 0, in[1]), x, idx);
        assertGradients(in -> F.indexSelect(in[0], 1, in[1]), Tensors.transposedLeaf(gen, 4, 3), Tensor.of(new long[] {2, 2, 0}, 3));
        Tensor gi = Tensors.indices(gen, 3, 5, 2);
        assertGradients(in -> F.gather(in[0], 1, in[1]), x, gi);
        assertGradients(in -> F.gather(in[0], 0, in[1]), x, Tensors.indices(gen, 5, 2, 3));
        Tensor src = Tensors.leaf(gen, 5, 2);
        assertGradients(in -> F.scatterAdd(in[0], 1, in[1], in[2]), x, gi, src);
        assertGradients(in -> F.scatterAdd(in[0], 1, in[1], in[2]), x, Tensors.indices(gen, 3, 4, 2), Tensors.leaf(gen, 5, 3));
        assertGradients(in -> F.indexAdd(in[0], 0, in[1], in[2]), x, idx, Tensors.leaf(gen, 6, 3));
        Tensor mask = Tensor.of(new boolean[] {true, false, true}, 3);
        assertGradients(in -> F.maskedFill(in[0], in[1], -2.0), x, mask);
        Tensor cond = Tensor.of(new boolean[] {true, false, false, true, true}, 5, 1);
        assertGradients(in -> F.where(in[0], in[1], in[2]), cond, x, Tensors.leaf(gen, 3));
        assertGradients(in -> F.topk(in[0], 2, 1, true).values(), x);
        assertGradients(in -> F.topk(in[0], 3, 0, false).values(), Tensors.transposedLeaf(gen, 5, 3));
        Tensor w = Tensors.leaf(gen, 6, 4);
        assertGradients(in -> F.embedding(in[0], in[1]), Tensors.indices(gen, 6, 2, 3), w);
    }

    @Test
    void views() {
        Tensor x = Tensors.leaf(gen, 2, 3, 4);
        assertGradients(in -> F.reshape(in[0], 4, -1), x);
        assertGradients(in -> F.view(in[0], 6, 4), x);
        assertGradients(in -> F.flatten(in[0]), Tensors.transposedLeaf(gen, 3, 4));
        assertGradients(in -> F.reshape(in[0], 2, 6), Tensors.transposedLeaf(gen, 3, 4));
        assertGradients(in -> F.transpose(in[0], 0, 2), x);
        assertGradients(in -> F.mT(in[0]), x);
        assertGradients(in -> F.permute(in[0], 2, 0, 1), x);
        assertGradients(in -> F.narrow(in[0], 2, 1, 2), x);
        assertGradients(in -> F.slice(in[0], 2, 0, 4, 3), x);
        assertGradients(in -> F.slice(in[0], 1, -2, 3, 1), x);
        assertGradients(in -> F.select(in[0], 1, -1), x);
        assertGradients(in -> F.expand(in[0], 3, 2, 4), Tensors.leaf(gen, 2, 1));
        assertGradients(in -> F.squeeze(in[0], 1), Tensors.leaf(gen, 3, 1, 2));
        assertGradients(in -> F.squeeze(in[0]), Tensors.leaf(gen, 1, 3, 1));
        assertGradients(in -> F.unsqueeze(in[0], 2), x);
        assertGradients(in -> F.contiguous(in[0]), Tensors.transposedLeaf(gen, 3, 4));
        assertGradients(in -> F.clone(in[0]), x);
        Tensor a = Tensors.leaf(gen, 2, 3), b = Tensors.transposedLeaf(gen, 2, 2), c = Tensors.leaf(gen, 2, 1);
        assertGradients(in -> F.cat(List.of(in[0], in[1], in[2]), 1), a, b, c);
        assertGradients(in -> F.cat(List.of(in[0], in[1]), 0), a, Tensors.leaf(gen, 4, 3));
        Tensor d = Tensors.leaf(gen, 2, 3), e = Tensors.stridedLeaf(gen, 2, 3);
        assertGradients(in -> F.stack(List.of(in[0], in[1]), 1), d, e);
        assertGradients(in -> F.stack(List.of(in[0], in[1]), -1), d, e);
    }

    @Test
    void casts() {
        Tensor x = Tensors.leaf(gen, 3, 2);
        // through F32 and back: the gradient is the identity (up to F32 rounding of the values)
        GradCheck.Result r = GradCheck.check(in -> F.to(F.to(in[0], DType.F32), DType.F64), 1e-3, 1e-4, 1e-3, 1, x);
        assertThat(r.passed()).as(r.worst()).isTrue();
        Tensor y = F.to(x, DType.F32);
        assertThat(y.dtype()).isEqualTo(DType.F32);
    }

    @Test
    void compositionOfManyOps() {
        Tensor x = Tensors.leaf(gen, 4, 3);
        Tensor w = Tensors.leaf(gen, 3, 5);
        Tensor b = Tensors.leaf(gen, 5);
        assertGradients(in -> F.sum(F.mul(F.softmax(F.add(F.matmul(in[0], in[1]), in[2]), -1), F.tanh(F.matmul(in[0], in[1])))),
                x, w, b);
    }
}
