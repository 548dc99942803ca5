package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LoraLinearTest {

    private static Linear base(int in, int out, boolean bias, DType dtype, long seed) {
        return new Linear(in, out, bias, dtype, new Generator(seed));
    }

    private static Tensor randn(long seed, DType dtype, int... shape) {
        return Tensor.randn(new Generator(seed), dtype, shape);
    }

    /** x W^T + b + s x A^T B^T, in plain tensor ops. */
    private static Tensor loraReference(Tensor x, Linear base, LoraAdapter a) {
        Tensor y = x.matmul(base.weight().mT());
        if (base.bias() != null) y = y.add(base.bias());
        return y.add(x.matmul(a.a().mT()).matmul(a.b().mT()).mul(a.scaling()));
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void loraForwardIsBasePlusScaledLowRankUpdate(boolean rslora) {
        Linear lin = base(13, 7, true, DType.F64, 1);
        LoraLinear l = new LoraLinear(lin, "default", AdapterSpec.of(3, 5).withRslora(rslora).withInit(LoraInit.RANDOM), new Generator(2));
        LoraAdapter a = l.adapter("default");
        assertThat(a.scaling()).isEqualTo(rslora ? 5 / Math.sqrt(3) : 5.0 / 3);
        Tensor x = randn(3, DType.F64, 2, 4, 13);
        close(l.forward(x), loraReference(x, lin, a), Checks.F64, "output");
        // the model-facing Linear runs the adapted layer too
        close(lin.forward(x), loraReference(x, lin, a), Checks.F64, "output through the wrapped Linear");
        close(lin.forwardBase(x), x.matmul(lin.weight().mT()).add(lin.bias()), Checks.F64, "plain base");
    }

    @Test
    void loraGradientsPassGradCheck() {
        Linear lin = base(6, 5, true, DType.F64, 4);
        LoraLinear l = new LoraLinear(lin, "default", AdapterSpec.of(2, 3).withInit(LoraInit.RANDOM), new Generator(5));
        LoraAdapter ad = l.adapter("default");
        Tensor x = randn(6, DType.F64, 3, 6).setRequiresGrad(true);
        GradCheck.assertGradients(in -> l.forward(in[0]), x, ad.a(), ad.b());
    }

    @Test
    void baseIsFrozenAndAdapterTrainable() {
        Linear lin = base(6, 5, true, DType.F32, 4);
        LoraLinear l = new LoraLinear(lin, "default", AdapterSpec.of(2, 4).withInit(LoraInit.RANDOM), new Generator(5));
        Tensor x = randn(1, DType.F32, 3, 6);
        Autograd.backward(F.sum(l.forward(x)));
        assertThat(lin.weight().grad()).isNull();
        assertThat(lin.bias().grad()).isNull();
        assertThat(l.adapter("default").a().grad()).isNotNull();
        assertThat(l.adapter("default").b().grad()).isNotNull();
        assertThat(l.trainableParameters().keySet()).containsExactly("lora_A.default.weight", "lora_B.default.weight");
        l.setBaseTrainable(true);
        Autograd.backward(F.sum(l.forward(x)));
        assertThat(lin.weight().grad()).isNotNull();
    }

    @Test
    void peftParameterNames() {
        LoraLinear l = new LoraLinear(base(8, 6, true, DType.F32, 1), "default", AdapterSpec.of(2, 4).withDora(true), new Generator(2));
        l.addAdapter("other", AdapterSpec.of(3, 3), new Generator(3));
        assertThat(l.namedParameters().keySet()).containsExactly("base_layer.weight", "base_layer.bias",
                "lora_A.default.weight", "lora_A.other.weight", "lora_B.default.weight", "lora_B.other.weight",
                "lora_magnitude_vector.default.weight");
    }

    @Test
    void kaimingInitMatchesPeft() {
        int in = 400, out = 300, r = 16;
        LoraLinear l = new LoraLinear(base(in, out, false, DType.F32, 1), "default", AdapterSpec.of(r, 32), new Generator(7));
        LoraAdapter a = l.adapter("default");
        double bound = 1 / Math.sqrt(in);                 // kaiming_uniform_(a = sqrt 5) on [r, in]
        double[] av = a.a().toDoubleArray();
        double sq = 0;
        for (double v : av) {
            assertThat(Math.abs(v)).isLessThanOrEqualTo(bound);
            sq += v * v;
        }
        assertThat(Math.sqrt(sq / av.length)).isCloseTo(bound / Math.sqrt(3), org.assertj.core.data.Percentage.withPercentage(3));
        assertThat(a.b().abs().max().item()).isZero();
        Tensor x = randn(2, DType.F32, 3, in);
        assertThat(l.forward(x).toFloatArray()).isEqualTo(l.baseLayer().forwardBase(x).toFloatArray());
    }

    @Test
    void gaussianInitHasStdOneOverR() {
        int r = 4;
        LoraLinear l = new LoraLinear(base(500, 200, false, DType.F64, 1), "default",
                AdapterSpec.of(r, 8).withInit(LoraInit.GAUSSIAN), new Generator(8));
        double[] av = l.adapter("default").a().toDoubleArray();
        double sq = 0;
        for (double v : av) sq += v * v;
        assertThat(Math.sqrt(sq / av.length)).isCloseTo(1.0 / r, org.assertj.core.data.Percentage.withPercentage(3));
        assertThat(l.adapter("default").b().abs().max().item()).isZero();
    }

    // ------------------------------------------------------------------ DoRA

    /** c * (x W^T + s x A^T B^T) + b with c = m / ||W + s B A||_row: the DoRA layer with one adapter, no dropout. */
    private static Tensor doraReference(Tensor x, Linear base, LoraAdapter a, Tensor norm) {
        Tensor c = a.magnitude().div(norm);
        Tensor y = x.matmul(base.weight().mT()).add(x.matmul(a.a().mT()).matmul(a.b().mT()).mul(a.scaling())).mul(c);
        return base.bias() == null ? y : y.add(base.bias());
    }

    private static Tensor rowNorms(Linear base, LoraAdapter a) {
        Tensor v = base.weight().add(a.b().matmul(a.a()).mul(a.scaling()));
        return v.mul(v).sum(1, false).sqrt();
    }

    @Test
    void doraInitialMagnitudeIsRowNormOfTheWeight() {
        Linear lin = base(9, 5, true, DType.F64, 1);
        LoraLinear l = new LoraLinear(lin, "default", AdapterSpec.of(2, 4).withDora(true), new Generator(2));
        Tensor w = lin.weight();
        close(l.adapter("default").magnitude(), w.mul(w).sum(1, false).sqrt(), Checks.F64, "magnitude");
        Tensor x = randn(3, DType.F64, 4, 9);
        close(l.forward(x), lin.forwardBase(x), Checks.F64, "initial DoRA output");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void doraForwardIsMagnitudeTimesNormalisedDirection(boolean bias) {
        Linear lin = base(9, 5, bias, DType.F64, 1);
        LoraLinear l = new LoraLinear(lin, "default", AdapterSpec.of(3, 6).withDora(true).withInit(LoraInit.RANDOM), new Generator(2));
        LoraAdapter a = l.adapter("default");
        try (NoGrad s = NoGrad.enter()) {
            a.magnitude().copyFrom(randn(9, DType.F64, 5).abs().add(0.5));
        }
        Tensor x = randn(3, DType.F64, 2, 4, 9);
        close(l.forward(x), doraReference(x, lin, a, rowNorms(lin, a)), Checks.F64, "DoRA output");
    }

    @Test
    void doraGradientsTreatTheNormAsConstant() {
        Linear lin = base(7, 6, true, DType.F64, 1);
        LoraLinear l = new LoraLinear(lin, "default", AdapterSpec.of(2, 4).withDora(true).withInit(LoraInit.RANDOM), new Generator(2));
        LoraAdapter a = l.adapter("default");
        Tensor x = randn(3, DType.F64, 5, 7).setRequiresGrad(true);
        // x and m: the norm does not depend on them, so finite differences apply
        GradCheck.assertGradients(in -> l.forward(in[0]), x, a.magnitude());
        // A and B: the gradient is that of the formula with the norm frozen at its current value
        Tensor g = randn(4, DType.F64, 5, 6);
        Autograd.backward(l.forward(x.detach()), g);
        Tensor gotA = a.a().grad(), gotB = a.b().grad();
        Tensor n0 = rowNorms(lin, a);
        Tensor aa = a.a().detach().copy().setRequiresGrad(true), bb = a.b().detach().copy().setRequiresGrad(true);
        Tensor c = a.magnitude().detach().div(n0);
        Tensor y = F.mul(F.add(F.linear(x.detach(), lin.weight(), null),
                F.mul(F.linear(F.linear(x.detach(), aa, null), bb, null), a.scaling())), c);
        Autograd.backward(y, g);
        close(gotA, aa.grad(), Checks.F64, "dA");
        close(gotB, bb.grad(), Checks.F64, "dB");
    }

    @Test
    void doraWithDropoutInTrainingDropsTheInputOfBothTerms() {
        double p = 0.3;
        long seed = 11;
        Linear lin = base(8, 5, true, DType.F64, 1);
        LoraLinear l = new LoraLinear(lin, "default", AdapterSpec.of(2, 4).withDora(true).withDropout(p).withInit(LoraInit.RANDOM),
                new Generator(seed));
        LoraAdapter a = l.adapter("default");
        // the adapter's generator made A, B (two Linear inits) before the masks; replay it
        Generator replay = new Generator(seed);
        new Linear(8, 2, false, DType.F64, replay);
        new Linear(2, 5, false, DType.F64, replay);
        Tensor x = randn(3, DType.F64, 4, 8);
        Tensor u = Tensor.rand(replay, DType.F64, 4, 8);
        Tensor xd = x.mul(u.ge(Tensor.scalar(DType.F64, p)).to(DType.F64).mul(1 / (1 - p)));
        Tensor c = a.magnitude().div(rowNorms(lin, a));
        Tensor baseOut = x.matmul(lin.weight().mT()).add(lin.bias());
        Tensor baseDropped = xd.matmul(lin.weight().mT());
        Tensor lora = xd.matmul(a.a().mT()).matmul(a.b().mT());
        Tensor want = baseOut.add(c.sub(1).mul(baseDropped)).add(c.mul(lora).mul(a.scaling()));
        close(l.forward(x), want, Checks.F64, "DoRA with dropout in training");
        l.eval();
        close(l.forward(x), doraReference(x, lin, a, rowNorms(lin, a)), Checks.F64, "DoRA with dropout in evaluation");
    }

    @Test
    void loraDropoutOnlyInTraining() {
        Linear lin = base(8, 5, true, DType.F64, 1);
        LoraLinear l = new LoraLinear(lin, "default", AdapterSpec.of(2, 4).withDropout(0.5).withInit(LoraInit.RANDOM), new Generator(3));
        Tensor x = randn(3, DType.F64, 6, 8);
        Tensor train = l.forward(x);
        assertThat(Checks.relErr(train, loraReference(x, lin, l.adapter("default")))).isGreaterThan(1e-3);
        l.eval();
        close(l.forward(x), loraReference(x, lin, l.adapter("default")), Checks.F64, "evaluation output");
    }

    // ------------------------------------------------------------------ merging

    @ParameterizedTest
    @ValueSource(strings = {"lora", "rslora", "dora"})
    void mergeKeepsTheOutputAndUnmergeRestoresTheWeight(String variant) {
        Linear lin = base(24, 16, true, DType.F32, 1);
        AdapterSpec spec = AdapterSpec.of(4, 8).withRslora(variant.equals("rslora")).withDora(variant.equals("dora")).withInit(LoraInit.RANDOM);
        LoraLinear l = new LoraLinear(lin, "default", spec, new Generator(2));
        if (variant.equals("dora")) {
            try (NoGrad s = NoGrad.enter()) {
                l.adapter("default").magnitude().mulInPlace(1.7);
            }
        }
        Tensor x = randn(3, DType.F32, 5, 24);
        Tensor before = l.forward(x);
        Tensor w0 = lin.weight().copy();
        l.merge();
        assertThat(l.isMerged("default")).isTrue();
        if (!variant.equals("dora")) close(lin.weight(), w0.add(l.deltaWeight("default")), 1e-6, "merged weight");
        close(l.forward(x), before, Checks.F32, "output after merge");
        close(lin.forwardBase(x), before, Checks.F32, "merged base alone");
        l.unmerge();
        assertThat(l.mergedAdapters()).isEmpty();
        close(lin.weight(), w0, 1e-6, "weight after unmerge");
        close(l.forward(x), before, Checks.F32, "output after unmerge");
    }

    @Test
    void severalAdaptersMergeAndUnmergeInReverseOrder() {
        Linear lin = base(20, 12, true, DType.F32, 1);
        LoraLinear l = new LoraLinear(lin, "a", AdapterSpec.of(3, 6).withInit(LoraInit.RANDOM), new Generator(2));
        l.addAdapter("b", AdapterSpec.of(2, 2).withInit(LoraInit.RANDOM), new Generator(3));
        l.addAdapter("c", AdapterSpec.of(2, 3).withDora(true).withInit(LoraInit.RANDOM), new Generator(4));
        l.setActiveAdapters("a", "b");
        Tensor x = randn(4, DType.F32, 6, 20);
        Tensor before = l.forward(x);
        Tensor w0 = lin.weight().copy();
        l.merge();
        assertThat(l.mergedAdapters()).containsExactly("a", "b");
        close(l.forward(x), before, Checks.F32, "output after merging both");
        // a DoRA adapter merged on top (its norm then includes a and b, as in PEFT), then all undone
        l.merge(List.of("c"));
        assertThat(l.mergedAdapters()).containsExactly("a", "b", "c");
        l.unmerge();
        close(lin.weight(), w0, 1e-6, "weight after unmerge");
        close(l.forward(x), before, Checks.F32, "output after unmerge");
    }

    // ------------------------------------------------------------------ several adapters

    @Test
    void activeSetChoosesWhichAdaptersAddAndTrain() {
        Linear lin = base(10, 8, true, DType.F64, 1);
        LoraLinear l = new LoraLinear(lin, "a", AdapterSpec.of(3, 6).withInit(LoraInit.RANDOM), new Generator(2));
        LoraAdapter b = l.addAdapter("b", AdapterSpec.of(2, 5).withInit(LoraInit.RANDOM), new Generator(3));
        LoraAdapter a = l.adapter("a");
        assertThat(l.activeAdapters()).containsExactly("a");
        assertThat(b.a().requiresGrad()).isFalse();
        Tensor x = randn(4, DType.F64, 3, 10);
        close(l.forward(x), loraReference(x, lin, a), Checks.F64, "only a");
        l.setActiveAdapters("b");
        close(l.forward(x), loraReference(x, lin, b), Checks.F64, "only b");
        assertThat(a.a().requiresGrad()).isFalse();
        assertThat(b.a().requiresGrad()).isTrue();
        l.setActiveAdapters("a", "b");
        Tensor both = loraReference(x, lin, a).add(x.matmul(b.a().mT()).matmul(b.b().mT()).mul(b.scaling()));
        close(l.forward(x), both, Checks.F64, "a and b");
        assertThatThrownBy(() -> l.setActiveAdapters("a", "c")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'c'");
        assertThat(l.activeAdapters()).containsExactly("a", "b");
    }

    @Test
    void disablingGivesTheBaseLayerAndUnmerges() {
        Linear lin = base(10, 8, true, DType.F32, 1);
        LoraLinear l = new LoraLinear(lin, "a", AdapterSpec.of(3, 6).withInit(LoraInit.RANDOM), new Generator(2));
        Tensor x = randn(4, DType.F32, 3, 10);
        Tensor w0 = lin.weight().copy();
        Tensor adapted = l.forward(x);
        l.merge();
        l.setAdaptersEnabled(false);
        assertThat(l.mergedAdapters()).isEmpty();
        close(lin.weight(), w0, 1e-6, "weight after disabling");
        close(l.forward(x), x.matmul(w0.mT()).add(lin.bias()), Checks.F32, "disabled output");
        l.setAdaptersEnabled(true);
        close(l.forward(x), adapted, Checks.F32, "enabled again");
    }

    @Test
    void mergeAndUnwrapLeavesAPlainLinearWithTheUpdate() {
        Linear lin = base(10, 8, true, DType.F32, 1);
        LoraLinear l = new LoraLinear(lin, "a", AdapterSpec.of(3, 6).withInit(LoraInit.RANDOM), new Generator(2));
        Tensor x = randn(4, DType.F32, 3, 10);
        Tensor adapted = l.forward(x);
        Linear back = l.mergeAndUnwrap();
        assertThat(back).isSameAs(lin);
        assertThat(lin.forwardOverride()).isNull();
        close(lin.forward(x), adapted, Checks.F32, "merged plain layer");
    }

    // ------------------------------------------------------------------ bad input

    @Test
    void badInputIsRejectedBeforeAnyChange() {
        Linear lin = base(10, 6, true, DType.F32, 1);
        assertThatThrownBy(() -> AdapterSpec.of(0, 8)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("r must be >= 1");
        assertThatThrownBy(() -> new LoraLinear(lin, "a", AdapterSpec.of(7, 8), new Generator(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("r = 7").hasMessageContaining("min(10, 6)");
        assertThat(lin.forwardOverride()).as("a failed wrap leaves the Linear alone").isNull();
        assertThat(lin.weight().requiresGrad()).as("a failed wrap does not freeze the Linear").isTrue();
        LoraLinear l = new LoraLinear(lin, "a", AdapterSpec.of(6, 8), new Generator(1));
        assertThatThrownBy(() -> l.addAdapter("a", AdapterSpec.of(2, 2), new Generator(1))).hasMessageContaining("already exists");
        assertThatThrownBy(() -> l.addAdapter("x.y", AdapterSpec.of(2, 2), new Generator(1))).hasMessageContaining("without dots");
        assertThatThrownBy(() -> l.addAdapter("b", AdapterSpec.of(8, 2), new Generator(1))).hasMessageContaining("exceeds");
        assertThat(l.adapters().keySet()).containsExactly("a");
        assertThatThrownBy(() -> new LoraLinear(lin)).hasMessageContaining("already has a forward override");
        assertThatThrownBy(() -> l.forward(Tensor.zeros(DType.F32, 2, 9))).hasMessageContaining("in_features 10");
        assertThatThrownBy(() -> l.forward(Tensor.zeros(DType.F64, 2, 10))).hasMessageContaining("dtype");
        assertThatThrownBy(() -> new AdapterSpec(2, 2, 1.0, false, false, LoraInit.KAIMING)).hasMessageContaining("lora_dropout");
        assertThatThrownBy(() -> l.merge(List.of("zzz"))).hasMessageContaining("'zzz'");
    }
}
