package dev.moe4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ReplaceDataTest {

    @Test
    void aLeafTakesTheSourceDataAndKeepsItsIdentity() {
        Tensor p = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor view = p.narrow(1, 1, 2);
        Tensor src = Tensor.of(new float[] {10, 20, 30, 40, 50, 60}, 3, 2).mT();   // non-contiguous source
        p.replaceData(src);
        assertThat(p.toFloatArray()).containsExactly(10, 30, 50, 20, 40, 60);
        assertThat(p.strides()).containsExactly(src.strides());
        src.fill(7);                                                                  // p shares the source's storage
        assertThat(p.toFloatArray()).containsOnly(7f);
        assertThat(view.toFloatArray()).containsExactly(2, 3, 5, 6);                  // earlier views keep the old data
    }

    @Test
    void aDifferentShapeOrDtypeIsRefusedNamingBoth() {
        Tensor p = Tensor.zeros(DType.F32, 2, 3);
        assertThatThrownBy(() -> p.replaceData(Tensor.zeros(DType.F32, 3, 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 3]").hasMessageContaining("[3, 2]");
        assertThatThrownBy(() -> p.replaceData(Tensor.zeros(DType.BF16, 2, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32").hasMessageContaining("BF16");
        assertThat(p.toFloatArray()).containsOnly(0f);
    }
}
