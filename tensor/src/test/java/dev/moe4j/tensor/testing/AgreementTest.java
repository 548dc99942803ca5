package dev.moe4j.tensor.testing;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class AgreementTest {

    @Test
    void f32AgreesElementByElementWithinTheScaledBound() {
        Tensor want = Tensor.of(new float[] {1, -2, 4, 0.5f}, 2, 2);
        assertThatCode(() -> Agreement.assertClose("y", want, Tensor.of(new float[] {1, -2, 4.00003f, 0.5f}, 2, 2), Agreement.F32)).doesNotThrowAnyException();
        assertThatThrownBy(() -> Agreement.assertClose("y", want, Tensor.of(new float[] {1, -2, 4.0001f, 0.5f}, 2, 2), Agreement.F32))
                .isInstanceOf(AssertionError.class).hasMessageContaining("y at 2 of 4");
    }

    @Test
    void bf16IsJudgedByTheRelativeErrorOfTheWholeTensorAndNoElementFarOff() {
        float[] w = new float[100];
        for (int i = 0; i < w.length; i++) w[i] = 1 + i * 0.01f;
        float[] spread = w.clone();
        for (int i = 0; i < w.length; i++) spread[i] *= 1 + (i % 2 == 0 ? 0.006f : -0.006f);     // 0.6% everywhere, then bf16 rounding: passes
        assertThatCode(() -> Agreement.assertClose("y", Tensor.of(w, 100), Tensor.of(spread, 100).to(DType.BF16), Agreement.BF16))
                .doesNotThrowAnyException();
        float[] oneOff = w.clone();
        oneOff[7] += 0.1f;                                                                              // one element 5% of the scale off
        assertThatThrownBy(() -> Agreement.assertClose("y", Tensor.of(w, 100), Tensor.of(oneOff, 100), Agreement.BF16))
                .isInstanceOf(AssertionError.class).hasMessageContaining("y at 7");
        float[] drift = w.clone();
        for (int i = 0; i < w.length; i++) drift[i] *= 1.015f;                                          // 1.5% everywhere: the norm catches it
        assertThatThrownBy(() -> Agreement.assertClose("y", Tensor.of(w, 100), Tensor.of(drift, 100), Agreement.BF16))
                .isInstanceOf(AssertionError.class).hasMessageContaining("relative error");
    }

    @Test
    void nanShapesAndMissingValuesNeverAgree() {
        Tensor want = Tensor.of(new float[] {1, 2}, 2);
        assertThatThrownBy(() -> Agreement.assertClose("y", want, Tensor.of(new float[] {1, Float.NaN}, 2), Agreement.BF16)).isInstanceOf(AssertionError.class);
        assertThatThrownBy(() -> Agreement.assertClose("y", want, Tensor.of(new float[] {1, 2}, 1, 2), Agreement.F32))
                .isInstanceOf(AssertionError.class).hasMessageContaining("shape [1, 2]");
        assertThatThrownBy(() -> Agreement.assertClose("y", want, null, Agreement.F32)).isInstanceOf(AssertionError.class);
    }
}
