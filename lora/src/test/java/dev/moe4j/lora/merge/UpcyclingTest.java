package dev.moe4j.lora.merge;

import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.SwiGLUMlp;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.Routing;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class UpcyclingTest {
    private static double relErr(Tensor got, Tensor want) {
        assertThat(got.shape()).isEqualTo(want.shape());
        double[] g = got.toDoubleArray(), w = want.toDoubleArray();
        double num = 0, den = 0;
        for (int i = 0; i < g.length; i++) {
            num += (g[i] - w[i]) * (g[i] - w[i]);
            den += w[i] * w[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    @Test
    void identicalExpertsGiveTheDenseLayerWhateverTheRouter() {
        Linear dense = new Linear(7, 5, true, DType.F64, new Generator(1));
        Tensor x = Tensor.randn(new Generator(2), DType.F64, 3, 4, 7);
        for (int k : new int[] {1, 2, 4}) {
            UpcycledLinearMoe moe = Upcycling.linear(dense, 4, k, new Generator(3));
            try (NoGrad s = NoGrad.enter()) {
                moe.router().weight().copyFrom(Tensor.randn(new Generator(4 + k), DType.F64, 4, 7).mul(3));
            }
            assertThat(relErr(moe.forward(x), dense.forward(x))).as("k = " + k).isLessThan(1e-12);
            assertThat(java.util.Arrays.stream(moe.lastRouting().load()).filter(c -> c > 0).count()).as("several experts are used").isGreaterThan(1);
        }
    }

    @Test
    void differentDenseCheckpointsBecomeDifferentExperts() {
        List<Linear> checkpoints = List.of(new Linear(6, 4, true, DType.F64, new Generator(1)), new Linear(6, 4, true, DType.F64, new Generator(2)),
                new Linear(6, 4, true, DType.F64, new Generator(3)));
        UpcycledLinearMoe moe = Upcycling.linear(checkpoints, 2, new Generator(4));
        try (NoGrad s = NoGrad.enter()) {
            moe.router().weight().copyFrom(Tensor.randn(new Generator(5), DType.F64, 3, 6));
        }
        Tensor x = Tensor.randn(new Generator(6), DType.F64, 9, 6);
        Tensor y = moe.forward(x);
        Routing r = moe.lastRouting();
        Tensor want = Tensor.zeros(DType.F64, 9, 4);
        for (int t = 0; t < 9; t++) {
            for (int j = 0; j < 2; j++) {
                Linear e = checkpoints.get(r.expertIds()[2 * t + j]);
                want.select(0, t).addInPlace(e.forwardBase(x.select(0, t).unsqueeze(0)).select(0, 0).mul(r.weights().getDouble(t, j)));
            }
        }
        assertThat(relErr(y, want)).isLessThan(1e-12);
        Tensor in = x.copy().setRequiresGrad(true);
        GradCheck.assertGradients(a -> moe.forward(a[0]), in, moe.weight(), moe.bias(), moe.router().weight());

        Linear merged = Upcycling.mergeToDense(moe);
        Tensor avgW = checkpoints.get(0).weight().add(checkpoints.get(1).weight()).add(checkpoints.get(2).weight()).div(3);
        assertThat(relErr(merged.weight(), avgW)).isLessThan(1e-12);
        Linear weighted = Upcycling.mergeToDense(moe, new double[] {1, 0, 0});
        assertThat(relErr(weighted.bias(), checkpoints.get(0).bias())).isLessThan(1e-12);
        assertThatThrownBy(() -> Upcycling.mergeToDense(moe, new double[] {1, 0})).hasMessageContaining("2 merge weights for E = 3");
    }

    @Test
    void upcycleAndMergeBackIsTheIdentityOnTheDenseLayer() {
        Linear dense = new Linear(7, 5, false, DType.F64, new Generator(1));
        Linear back = Upcycling.mergeToDense(Upcycling.linear(dense, 3, 2, new Generator(2)));
        assertThat(relErr(back.weight(), dense.weight())).isLessThan(1e-15);
        assertThat(back.bias()).isNull();
        assertThatThrownBy(() -> Upcycling.linear(List.of(dense, new Linear(7, 4, false, DType.F64, new Generator(1))), 1, new Generator(2)))
                .hasMessageContaining("dense layers differ");
        assertThatThrownBy(() -> Upcycling.linear(dense, 2, 3, new Generator(2))).hasMessageContaining("k = 3");
    }

    @Test
    void swigluUpcyclesIntoAnMoeLayerAndMergesBack() {
        SwiGLUMlp mlp = new SwiGLUMlp(6, 10, DType.F64, new Generator(1));
        Tensor x = Tensor.randn(new Generator(2), DType.F64, 2, 5, 6);
        MoeLayer moe = Upcycling.swiglu(mlp, 4, 2, new Generator(3));
        try (NoGrad s = NoGrad.enter()) {
            moe.router().parameters().get(0).copyFrom(Tensor.randn(new Generator(4), DType.F64, 4, 6).mul(2));
        }
        assertThat(relErr(moe.forward(x), mlp.forward(x))).isLessThan(1e-12);
        SwiGLUMlp back = Upcycling.mergeToDense(moe);
        assertThat(relErr(back.forward(x), mlp.forward(x))).isLessThan(1e-12);

        SwiGLUMlp other = new SwiGLUMlp(6, 10, DType.F64, new Generator(9));
        MoeLayer two = Upcycling.swiglu(List.of(mlp, other), 1, new Generator(3));
        SwiGLUMlp avg = Upcycling.mergeToDense(two);
        Tensor g = mlp.namedParameters().get("gate_proj.weight").add(other.namedParameters().get("gate_proj.weight")).mul(0.5);
        assertThat(relErr(avg.namedParameters().get("gate_proj.weight"), g)).isLessThan(1e-12);
        Tensor d = mlp.namedParameters().get("down_proj.weight").add(other.namedParameters().get("down_proj.weight")).mul(0.5);
        assertThat(relErr(avg.namedParameters().get("down_proj.weight"), d)).isLessThan(1e-12);
    }
}
