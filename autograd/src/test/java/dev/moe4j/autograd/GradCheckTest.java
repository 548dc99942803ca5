package dev.moe4j.autograd;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GradCheckTest {
    private final Generator gen = new Generator(5);

    /** y = x^3 with a backward that is off by a relative 1e-4. */
    private static final class SlightlyWrongCube extends Function {
        @Override
        protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0]);
            return in[0].mul(in[0]).mul(in[0]);
        }

        @Override
        protected Tensor[] backward(Context ctx, Tensor g) {
            Tensor x = ctx.saved(0);
            return new Tensor[] {g.mul(x.mul(x)).mul(3.0 * (1 + 1e-4))};
        }
    }

    @Test
    void acceptsACorrectGradientAndReportsTheCount() {
        Tensor x = Tensors.leaf(gen, 3, 4);
        GradCheck.Result r = GradCheck.check(in -> F.mul(F.mul(in[0], in[0]), in[0]), x);
        assertThat(r.passed()).as(r.worst()).isTrue();
        assertThat(r.checked()).isEqualTo(12);
        assertThat(r.maxAbsError()).isLessThan(1e-7);
    }

    @Test
    void catchesASmallRelativeError() {
        Tensor x = Tensors.uniformLeaf(gen, 0.5, 2.0, 5);
        GradCheck.Result r = GradCheck.check(in -> new SlightlyWrongCube().apply(in[0]), x);
        assertThat(r.passed()).isFalse();
        assertThat(r.worst()).contains("input 0").contains("analytic").contains("numeric");
        assertThatThrownBy(() -> GradCheck.assertGradients(in -> new SlightlyWrongCube().apply(in[0]), x))
                .isInstanceOf(AssertionError.class).hasMessageContaining("gradient check failed");
    }

    @Test
    void leavesInputsUnchanged() {
        Tensor x = Tensors.transposedLeaf(gen, 3, 4);
        double[] before = x.toDoubleArray();
        GradCheck.check(in -> F.exp(in[0]), x);
        assertThat(x.toDoubleArray()).containsExactly(before);
    }

    @Test
    void rejectsInputsItCannotPerturbSafely() {
        Tensor f32 = Tensor.randn(gen, DType.F32, 3).setRequiresGrad(true);
        assertThatThrownBy(() -> GradCheck.check(in -> F.exp(in[0]), f32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        Tensor expanded = Tensor.randn(gen, DType.F64, 1, 3).expand(4, 3).setRequiresGrad(true);
        assertThatThrownBy(() -> GradCheck.check(in -> F.exp(in[0]), expanded))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expanded");
        Tensor constant = Tensor.randn(gen, DType.F64, 3);
        assertThatThrownBy(() -> GradCheck.check(in -> F.exp(in[0]), constant))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no input requires");
    }
}
