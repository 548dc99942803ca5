package dev.moe4j.tensor;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TensorViewTest {

    private static Tensor iota(int... shape) {
        return Tensor.arange(DType.F32, 0, Shape.numel(shape), 1).view(shape);
    }

    @Test
    void creation() {
        assertThat(Tensor.zeros(2, 3).toFloatArray()).containsOnly(0f).hasSize(6);
        assertThat(Tensor.ones(DType.F64, 4).toDoubleArray()).containsOnly(1.0);
        assertThat(Tensor.full(DType.I32, 7, 2, 2).toLongArray()).containsOnly(7L);
        assertThat(Tensor.arange(5).toLongArray()).containsExactly(0, 1, 2, 3, 4);
        assertThat(Tensor.arange(DType.F64, 1, 2, 0.25).toDoubleArray()).containsExactly(1, 1.25, 1.5, 1.75);
        assertThat(Tensor.scalar(DType.F32, 3).rank()).isZero();
        assertThat(Tensor.scalar(DType.F32, 3).item()).isEqualTo(3.0);
        assertThat(Tensor.of(new boolean[] {true, false}, 2).dtype()).isEqualTo(DType.BOOL);
        assertThatThrownBy(() -> Tensor.of(new float[5], 2, 3)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 3]");
        assertThatThrownBy(() -> Tensor.zeros(2, -1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        assertThatThrownBy(() -> Tensor.arange(DType.F32, 0, 1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void seededRandomIsReproducible() {
        Tensor a = Tensor.randn(new Generator(42), DType.F32, 1000);
        Tensor b = Tensor.randn(new Generator(42), DType.F32, 1000);
        assertThat(a.toFloatArray()).containsExactly(b.toFloatArray());
        double[] v = a.toDoubleArray();
        double mean = 0, sq = 0;
        for (double x : v) { mean += x; sq += x * x; }
        mean /= v.length;
        assertThat(mean).isBetween(-0.15, 0.15);
        assertThat(sq / v.length).isBetween(0.8, 1.2);
        double[] u = Tensor.rand(new Generator(1), DType.F64, 1000).toDoubleArray();
        for (double x : u) assertThat(x).isGreaterThanOrEqualTo(0).isLessThan(1);
    }

    @Test
    void transposeAndPermuteShareStorage() {
        Tensor a = iota(2, 3, 4);
        Tensor t = a.transpose(0, 2);
        assertThat(t.shape()).containsExactly(4, 3, 2);
        assertThat(t.storage()).isSameAs(a.storage());
        assertThat(t.isContiguous()).isFalse();
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 4; k++)
            assertThat(t.getDouble(k, j, i)).isEqualTo(a.getDouble(i, j, k));
        Tensor p = a.permute(1, 2, 0);
        assertThat(p.shape()).containsExactly(3, 4, 2);
        assertThat(p.getDouble(2, 3, 1)).isEqualTo(a.getDouble(1, 2, 3));
        Tensor c = p.contiguous();
        assertThat(c.isContiguous()).isTrue();
        assertThat(c.storage()).isNotSameAs(a.storage());
        assertThat(c.getDouble(2, 3, 1)).isEqualTo(a.getDouble(1, 2, 3));
        assertThat(a.contiguous()).isSameAs(a);
        assertThatThrownBy(() -> a.permute(0, 0, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("repeats");
        assertThatThrownBy(() -> a.transpose(0, 3)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("rank 3");
    }

    @Test
    void viewAndReshape() {
        Tensor a = iota(2, 3, 4);
        Tensor v = a.view(6, -1);
        assertThat(v.shape()).containsExactly(6, 4);
        assertThat(v.storage()).isSameAs(a.storage());
        assertThat(v.getDouble(5, 3)).isEqualTo(23);
        // a transposed view can still be viewed when the merged dims stay contiguous
        Tensor t = a.transpose(1, 2);               // [2, 4, 3], strides [12, 1, 4]
        assertThatThrownBy(() -> t.view(2, 12)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reshape");
        Tensor r = t.reshape(2, 12);                // copies
        assertThat(r.getDouble(1, 1)).isEqualTo(t.getDouble(1, 0, 1));
        Tensor tv = t.view(2, 2, 2, 3);             // splitting a dim is always viewable
        assertThat(tv.storage()).isSameAs(a.storage());
        assertThat(tv.getDouble(1, 1, 0, 2)).isEqualTo(t.getDouble(1, 2, 2));
        Tensor m = a.permute(1, 0, 2);              // [3, 2, 4]: the last dim alone is contiguous
        Tensor mv = m.view(3, 2, 2, 2);
        assertThat(mv.getDouble(2, 1, 1, 0)).isEqualTo(m.getDouble(2, 1, 2));
        assertThatThrownBy(() -> a.view(5, 5)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("24");
        assertThatThrownBy(() -> a.view(-1, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(a.flatten().shape()).containsExactly(24);
        assertThat(Tensor.zeros(0, 3).view(-1, 3).shape()).containsExactly(0, 3);
    }

    @Test
    void narrowSliceSelect() {
        Tensor a = iota(4, 5);
        Tensor n = a.narrow(1, 1, 3);
        assertThat(n.shape()).containsExactly(4, 3);
        assertThat(n.getDouble(2, 0)).isEqualTo(11);
        Tensor s = a.slice(0, 1, 4, 2);
        assertThat(s.shape()).containsExactly(2, 5);
        assertThat(s.getDouble(1, 4)).isEqualTo(19);
        assertThat(a.slice(1, -2, 5, 1).getDouble(0, 0)).isEqualTo(3);
        Tensor row = a.select(0, -1);
        assertThat(row.shape()).containsExactly(5);
        assertThat(row.getDouble(0)).isEqualTo(15);
        assertThat(a.narrow(0, 4, 0).numel()).isZero();
        assertThatThrownBy(() -> a.narrow(0, 3, 2)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("size 4");
        assertThatThrownBy(() -> a.select(1, 5)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> a.slice(0, 0, 4, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void expandSqueezeUnsqueeze() {
        Tensor a = iota(3, 1);
        Tensor e = a.expand(2, 3, 4);
        assertThat(e.shape()).containsExactly(2, 3, 4);
        assertThat(e.strides()).containsExactly(0, 1, 0);
        assertThat(e.getDouble(1, 2, 3)).isEqualTo(2);
        assertThat(e.contiguous().toFloatArray()).hasSize(24);
        assertThat(a.expand(-1, 5).shape()).containsExactly(3, 5);
        assertThatThrownBy(() -> a.expand(4, 4)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3, 1]");
        Tensor u = a.unsqueeze(0);
        assertThat(u.shape()).containsExactly(1, 3, 1);
        assertThat(a.unsqueeze(-1).shape()).containsExactly(3, 1, 1);
        assertThat(u.squeeze().shape()).containsExactly(3);
        assertThat(u.squeeze(1).shape()).containsExactly(1, 3, 1);
        assertThat(u.squeeze(0).shape()).containsExactly(3, 1);
    }

    @Test
    void elementAccessCastsAndInPlaceWrites() {
        Tensor a = Tensor.zeros(2, 2);
        int v0 = a.storage().version();
        a.set(2.5, 1, 0);
        assertThat(a.storage().version()).isGreaterThan(v0);
        assertThat(a.getDouble(1, 0)).isEqualTo(2.5);
        assertThatThrownBy(() -> a.getDouble(2, 0)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> a.getDouble(0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(a.to(DType.I64).getLong(1, 0)).isEqualTo(2);
        Tensor bf = Tensor.of(new float[] {1.00390625f, 3f}, 2).to(DType.BF16);
        assertThat(bf.dtype()).isEqualTo(DType.BF16);
        assertThat(bf.toFloatArray()).containsExactly(1f, 3f);
        assertThat(Tensor.of(new float[] {0.5f, -1f}, 2).to(DType.BOOL).toLongArray()).containsExactly(1, 1);
        Tensor big = Tensor.of(new long[] {Long.MAX_VALUE - 1}, 1);
        assertThat(big.to(DType.I64)).isSameAs(big);
        Tensor t = iota(2, 3).transpose(0, 1);
        Tensor dst = Tensor.zeros(3, 2);
        dst.copyFrom(t);
        assertThat(dst.toFloatArray()).containsExactly(0, 3, 1, 4, 2, 5);
        dst.narrow(0, 1, 1).fill(9);
        assertThat(dst.toFloatArray()).containsExactly(0, 3, 9, 9, 2, 5);
        Tensor ex = Tensor.zeros(2, 3);
        ex.copyFrom(Tensor.vector(1, 2, 3));            // broadcast source
        assertThat(ex.toFloatArray()).containsExactly(1, 2, 3, 1, 2, 3);
    }

    @Test
    void toStringShowsShapeDtypeAndSmallValues() {
        assertThat(iota(2, 2).toString()).isEqualTo("Tensor(shape=[2, 2], dtype=F32, values=[[0.000, 1.000], [2.000, 3.000]])");
        assertThat(Tensor.zeros(100).toString()).isEqualTo("Tensor(shape=[100], dtype=F32)");
        assertThat(Tensor.of(new long[] {3, 4}, 2).toString()).contains("[3, 4]").contains("I64");
    }

    @Test
    void requiresGradOnlyForFloats() {
        assertThat(Tensor.zeros(2).setRequiresGrad(true).requiresGrad()).isTrue();
        assertThatThrownBy(() -> Tensor.arange(3).setRequiresGrad(true)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I64");
    }

    @Test
    void dtypePromotion() {
        assertThat(DType.promote(DType.F32, DType.F64)).isEqualTo(DType.F64);
        assertThat(DType.promote(DType.I64, DType.F32)).isEqualTo(DType.F32);
        assertThat(DType.promote(DType.BF16, DType.I64)).isEqualTo(DType.BF16);
        assertThat(DType.promote(DType.BF16, DType.F16)).isEqualTo(DType.F32);
        assertThat(DType.promote(DType.BOOL, DType.I32)).isEqualTo(DType.I32);
        assertThat(DType.fromSafetensorsName("BF16")).isEqualTo(DType.BF16);
        assertThatThrownBy(() -> DType.fromSafetensorsName("F8_E4M3")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F8_E4M3");
    }

    @Test
    void viewsOutsideStorageAreRejected() {
        assertThatThrownBy(() -> new Tensor(CpuStorage.allocate(DType.F32, 4), new int[] {2, 3}, new int[] {3, 1}, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside");
    }
}
