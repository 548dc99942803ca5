package dev.moe4j.lora.merge;

import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.lora.AdapterSpec;
import dev.moe4j.lora.LoraInit;
import dev.moe4j.lora.LoraLinear;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LoraMergeTest {
    private static final double TOL = 1e-12;

    private static double err(Tensor got, Tensor want) {
        assertThat(got.shape()).isEqualTo(want.shape());
        double[] g = got.toDoubleArray(), w = want.toDoubleArray();
        double m = 0;
        for (int i = 0; i < g.length; i++) m = Math.max(m, Math.abs(g[i] - w[i]));
        return m;
    }

    private static LowRankUpdate random(long seed, int r, double s) {
        Generator gen = new Generator(seed);
        return new LowRankUpdate(Tensor.randn(gen, DType.F64, r, 7), Tensor.randn(gen, DType.F64, 5, r), s);
    }

    @Test
    void mergingIdenticalAdaptersGivesTheSameAdapter() {
        LoraLinear layer = new LoraLinear(new Linear(7, 5, true, DType.F64, new Generator(1)));
        layer.addAdapter("a", AdapterSpec.of(3, 6).withInit(LoraInit.RANDOM), new Generator(2));
        LowRankUpdate u = LowRankUpdate.of(layer.adapter("a"));
        List<LowRankUpdate> twice = List.of(u, u);
        assertThat(err(u.delta(), layer.deltaWeight("a"))).isLessThan(TOL);
        assertThat(err(LoraMerge.linear(twice), u.delta())).isLessThan(TOL);
        LowRankUpdate cat = LoraMerge.concatenate(twice, null);
        assertThat(cat.rank()).isEqualTo(6);
        assertThat(err(cat.delta(), u.delta())).isLessThan(TOL);
        LowRankUpdate avg = LoraMerge.averageFactors(twice, null);
        assertThat(err(avg.a(), u.a())).isLessThan(TOL);
        assertThat(err(avg.b(), u.b())).isLessThan(TOL);
        assertThat(avg.scaling()).isEqualTo(u.scaling());
        assertThat(err(LoraMerge.tiesUpdates(twice, 1.0, 1.0), u.delta())).isLessThan(TOL);
    }

    @Test
    void linearAndConcatenatedMergesAgree() {
        List<LowRankUpdate> us = List.of(random(1, 2, 0.5), random(2, 3, 2.0), random(3, 1, 1.0));
        double[] c = {0.2, 0.5, -0.3};
        Tensor want = us.get(0).delta().mul(0.2).add(us.get(1).delta().mul(0.5)).add(us.get(2).delta().mul(-0.3));
        assertThat(err(LoraMerge.linear(us, c), want)).isLessThan(TOL);
        LowRankUpdate cat = LoraMerge.concatenate(us, c);
        assertThat(cat.rank()).isEqualTo(6);
        assertThat(err(cat.delta(), want)).isLessThan(TOL);
        assertThatThrownBy(() -> LoraMerge.averageFactors(us, c)).hasMessageContaining("equal ranks");
        assertThatThrownBy(() -> LoraMerge.linear(us, new double[] {1})).hasMessageContaining("1 merge weights for 3 updates");
    }

    @Test
    void tiesTrimsElectsTheSignAndAveragesTheAgreeingValues() {
        Tensor t1 = Tensor.of(new double[] {3, -1, 0.1, 2}, 2, 2), t2 = Tensor.of(new double[] {-1, -2, 0.2, 2}, 2, 2);
        // density 1: signs of the sums (2, -3, 0.3, 4) are +, -, +, +; disjoint means over the agreeing entries
        assertThat(err(LoraMerge.ties(List.of(t1, t2), 1.0, 1.0), Tensor.of(new double[] {3, -1.5, 0.15, 2}, 2, 2))).isLessThan(TOL);
        // density 0.5: t1 keeps {3, 2}, t2 keeps {-2, 2} (the first of equal magnitudes: index 1)
        assertThat(err(LoraMerge.ties(List.of(t1, t2), 0.5, 1.0), Tensor.of(new double[] {3, -2, 0, 2}, 2, 2))).isLessThan(TOL);
        assertThat(err(LoraMerge.ties(List.of(t1, t2), 0.5, 0.5), Tensor.of(new double[] {1.5, -1, 0, 1}, 2, 2))).isLessThan(TOL);
        // opposite values cancel: no elected sign, result 0
        assertThat(err(LoraMerge.ties(List.of(t1, t1.neg()), 1.0, 1.0), Tensor.zeros(DType.F64, 2, 2))).isLessThan(TOL);
        assertThatThrownBy(() -> LoraMerge.ties(List.of(t1), 0.0, 1.0)).hasMessageContaining("density");
        assertThatThrownBy(() -> LoraMerge.ties(List.of(t1, Tensor.zeros(DType.F64, 4)), 1.0, 1.0)).hasMessageContaining("differ in shape");
    }

    @Test
    void foldingAMergedDeltaIntoTheBase() {
        Linear lin = new Linear(7, 5, false, DType.F64, new Generator(1));
        Tensor w0 = lin.weight().copy();
        LowRankUpdate u = random(4, 2, 1.5);
        LoraMerge.foldInto(lin, u.delta());
        assertThat(err(lin.weight(), w0.add(u.delta()))).isLessThan(TOL);
        assertThatThrownBy(() -> LoraMerge.foldInto(lin, Tensor.zeros(DType.F64, 7, 5))).hasMessageContaining("does not fit");
    }
}
