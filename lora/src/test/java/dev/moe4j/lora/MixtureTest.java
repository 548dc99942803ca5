package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.Routing;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MixtureTest {
    private static final AdapterSpec RANDOM = AdapterSpec.of(2, 4).withInit(LoraInit.RANDOM);

    private static Linear base(int in, int out, DType dtype) { return new Linear(in, out, true, dtype, new Generator(1)); }

    private static Tensor x(long seed, DType dtype, int... shape) { return Tensor.randn(new Generator(seed), dtype, shape); }

    /** s * B_i A_i x_t for one token (row) x_t [in]. */
    private static Tensor expert(LoraExpertBank bank, int i, Tensor xt) {
        return bank.b().select(0, i).matmul(bank.a().select(0, i).matmul(xt)).mul(bank.scaling());
    }

    /** base(x) + per-token sum over the plan's kept pairs of w * expert(x). */
    private static Tensor routedReference(LoraMixtureLinear l, Tensor x, RoutingPlan plan, int[] ids, Tensor w) {
        int T = x.size(0), k = plan.topK();
        Tensor y = l.baseLayer().forwardBase(x).copy();
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < k; j++) {
                if (plan.pairToRow()[t * k + j] < 0) continue;
                Tensor add = expert(l.experts(), ids[t * k + j], x.select(0, t)).mul(w.getDouble(t, j));
                y.select(0, t).addInPlace(add);
            }
        }
        return y;
    }

    // ------------------------------------------------------------------ MixLoRA

    @Test
    void mixLoraIsTopKRoutedLowRankExperts() {
        MixLoraLinear l = new MixLoraLinear(base(9, 6, DType.F64), 4, 2, RANDOM, new Generator(2));
        Tensor in = x(3, DType.F64, 13, 9);
        Tensor y = l.forward(in);
        Routing r = l.lastRouting();
        close(y, routedReference(l, in, r.plan(), r.expertIds(), r.weights()), Checks.F64, "MixLoRA output");
        double[] w = r.weights().toDoubleArray();
        for (int t = 0; t < 13; t++) assertThat(w[2 * t] + w[2 * t + 1]).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(l.auxLoss().item()).isGreaterThan(0);
    }

    @Test
    void mixLoraGradients() {
        MixLoraLinear l = new MixLoraLinear(base(5, 4, DType.F64), 3, 2, RANDOM, new Generator(2));
        Tensor in = x(3, DType.F64, 6, 5).setRequiresGrad(true);
        GradCheck.assertGradients(a -> l.forward(a[0]), in, l.experts().a(), l.experts().b(), l.router().weight());
        GradCheck.assertGradients(a -> { l.forward(a[0]); return l.auxLoss(); }, in, l.router().weight());
    }

    // ------------------------------------------------------------------ SiRA

    @Test
    void siraDropsPairsOverCapacityAndDropsExpertsInTraining() {
        SiraLinear l = new SiraLinear(base(9, 6, DType.F64), 4, 2, 0.5, DropPolicy.BY_POSITION, 0.3, RANDOM, new Generator(2));
        Tensor in = x(3, DType.F64, 16, 9);
        l.eval();
        Tensor y = l.forward(in);
        Routing r = l.lastRouting();
        assertThat(r.plan().capacity()).isEqualTo(4);                     // ceil(0.5 * 16 * 2 / 4)
        assertThat(r.plan().dropped().length).isGreaterThan(0);
        for (int c : r.plan().counts()) assertThat(c).isLessThanOrEqualTo(4);
        close(y, routedReference(l, in, r.plan(), r.expertIds(), r.weights()), Checks.F64, "SiRA output in evaluation");
        l.train(true);
        Tensor yt = l.forward(in);
        assertThat(Checks.relErr(yt, y)).as("expert dropout changes the training output").isGreaterThan(1e-6);
    }

    @Test
    void siraGradientsWithCapacity() {
        SiraLinear l = new SiraLinear(base(5, 4, DType.F64), 3, 2, 0.7, DropPolicy.BY_SCORE, 0.2, RANDOM, new Generator(2));
        l.eval();
        Tensor in = x(3, DType.F64, 8, 5).setRequiresGrad(true);
        l.forward(in);
        assertThat(l.lastRouting().plan().dropped().length).isGreaterThan(0);
        GradCheck.assertGradients(a -> l.forward(a[0]), in, l.experts().a(), l.experts().b(), l.router().weight());
    }

    // ------------------------------------------------------------------ AdaMoLE

    @Test
    void adaMoleActivatesExpertsAboveALearnedThreshold() {
        AdaMoleLinear l = new AdaMoleLinear(base(9, 6, DType.F64), 5, RANDOM, new Generator(2));
        Tensor in = x(3, DType.F64, 20, 9).mul(3);
        Tensor y = l.forward(in);
        Tensor p = in.matmul(l.gate().weight().mT()).softmax(-1);
        Tensor tau = l.thresholds(in);
        int[] counts = l.lastActiveCounts();
        Tensor want = l.baseLayer().forwardBase(in).copy();
        boolean varied = false;
        for (int t = 0; t < 20; t++) {
            double sum = 0;
            int active = 0;
            for (int i = 0; i < 5; i++) {
                double a = p.getDouble(t, i) - tau.getDouble(t, 0);
                if (a >= 0) { sum += a; active++; }
            }
            assertThat(counts[t]).isEqualTo(active).isBetween(1, 5);
            varied |= active != counts[0];
            for (int i = 0; i < 5; i++) {
                double a = p.getDouble(t, i) - tau.getDouble(t, 0);
                if (a >= 0) want.select(0, t).addInPlace(expert(l.experts(), i, in.select(0, t)).mul(a / sum));
            }
        }
        assertThat(varied).as("the number of active experts varies between tokens").isTrue();
        close(y, want, Checks.F64, "AdaMoLE output");
    }

    @Test
    void adaMoleGradientsReachTheThreshold() {
        AdaMoleLinear l = new AdaMoleLinear(base(5, 4, DType.F64), 3, RANDOM, new Generator(2));
        Tensor in = x(3, DType.F64, 7, 5).setRequiresGrad(true);
        GradCheck.assertGradients(a -> l.forward(a[0]), in, l.experts().a(), l.experts().b(), l.gate().weight(),
                l.threshold().weight(), l.threshold().bias());
        Autograd.backward(F.sum(l.forward(in.detach())));
        assertThat(l.threshold().bias().grad().abs().item()).isGreaterThan(0);
        GradCheck.assertGradients(a -> { l.forward(a[0]); return l.auxLoss(); }, in, l.gate().weight(), l.threshold().bias());
    }

    // ------------------------------------------------------------------ LoRAMoE

    @Test
    void loraMoeMixesAllExpertsSoftly() {
        LoraMoeLinear l = new LoraMoeLinear(base(9, 6, DType.F64), 4, 0.1, RANDOM, new Generator(2));
        Tensor in = x(3, DType.F64, 2, 5, 9);
        Tensor y = l.forward(in);
        Tensor flat = in.reshape(10, 9);
        Tensor w = flat.matmul(l.router().weight().mT()).softmax(-1);
        Tensor want = l.baseLayer().forwardBase(flat).copy();
        for (int t = 0; t < 10; t++) {
            for (int i = 0; i < 4; i++) want.select(0, t).addInPlace(expert(l.experts(), i, flat.select(0, t)).mul(w.getDouble(t, i)));
        }
        close(y.reshape(10, 6), want, Checks.F64, "LoRAMoE output");
    }

    @Test
    void loraMoeLocalizedBalancingConstraint() {
        LoraMoeLinear l = new LoraMoeLinear(base(9, 6, DType.F64), 4, 0.2, RANDOM, new Generator(2));
        l.setExpertTypes(0, 1, 0, 1);
        Tensor in = x(3, DType.F64, 3, 5, 9);
        l.forward(in);
        int[] sampleTypes = {1, 0, 1};
        Tensor w = l.lastWeights();
        double[] z = new double[12];
        int[] expertTypes = {0, 1, 0, 1};
        for (int b = 0; b < 3; b++) {
            for (int i = 0; i < 4; i++) {
                double q = 0;
                for (int s = 0; s < 5; s++) q += w.getDouble(b * 5 + s, i);
                z[b * 4 + i] = q * (sampleTypes[b] == expertTypes[i] ? 1.2 : 0.8);
            }
        }
        double mean = 0, var = 0;
        for (double v : z) mean += v / 12;
        for (double v : z) var += (v - mean) * (v - mean) / 11;
        assertThat(l.balanceLoss(sampleTypes).item()).isCloseTo(var / mean, org.assertj.core.data.Offset.offset(1e-12));
        Tensor in2 = x(4, DType.F64, 2, 3, 9).setRequiresGrad(true);
        GradCheck.assertGradients(a -> { l.forward(a[0]); return l.balanceLoss(new int[] {0, 1}); }, in2, l.router().weight());
        GradCheck.assertGradients(a -> l.forward(a[0]), in2, l.experts().a(), l.experts().b(), l.router().weight());
        assertThatThrownBy(() -> l.balanceLoss(new int[] {0, 1, 1, 0})).hasMessageContaining("4 sample types");
    }

    // ------------------------------------------------------------------ training end to end

    /** A teacher: the base layer plus a fixed rank-2 update; the mixture must learn towards it. */
    private static void trainsEndToEnd(Function<Linear, LoraMixtureLinear> make, String name) {
        Linear lin = base(12, 8, DType.F32);
        Tensor in = x(5, DType.F32, 64, 12);
        Tensor u = x(6, DType.F32, 8, 2), v = x(7, DType.F32, 2, 12);
        Tensor target = lin.forwardBase(in).add(in.matmul(v.mT()).matmul(u.mT()).mul(0.3));
        LoraMixtureLinear l = make.apply(lin);
        List<Tensor> params = new ArrayList<>(l.trainableParameters().values());
        assertThat(params).doesNotContain(lin.weight(), lin.bias());
        Adam opt = new Adam(params, 2e-2);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            opt.zeroGrad();
            Tensor loss = F.mseLoss(lin.forward(in), target);          // through the wrapped Linear
            if (l.auxLoss() != null) loss = F.add(loss, F.mul(l.auxLoss(), 1e-3));
            if (step == 0) first = loss.item();
            last = loss.item();
            Autograd.backward(loss);
            opt.step();
        }
        assertThat(last).as(name + " loss after 60 steps vs first").isLessThan(0.5 * first);
        assertThat(lin.weight().grad()).isNull();
    }

    @Test
    void everyMixtureTrains() {
        AdapterSpec spec = AdapterSpec.of(2, 4);
        trainsEndToEnd(b -> new MixLoraLinear(b, 4, 2, spec, new Generator(2)), "MixLoRA");
        trainsEndToEnd(b -> new SiraLinear(b, 4, 2, 1.5, DropPolicy.BY_POSITION, 0.1, spec, new Generator(2)), "SiRA");
        trainsEndToEnd(b -> new AdaMoleLinear(b, 4, spec, new Generator(2)), "AdaMoLE");
        trainsEndToEnd(b -> new LoraMoeLinear(b, 4, 0.1, spec, new Generator(2)), "LoRAMoE");
    }

    @Test
    void badInputLeavesTheBaseAlone() {
        Linear lin = base(6, 5, DType.F32);
        assertThatThrownBy(() -> new MixLoraLinear(lin, 3, 4, RANDOM, new Generator(1))).hasMessageContaining("top-k must lie in [1, N = 3]");
        assertThatThrownBy(() -> new MixLoraLinear(lin, 3, 2, AdapterSpec.of(6, 1), new Generator(1))).hasMessageContaining("min(6, 5)");
        assertThatThrownBy(() -> new SiraLinear(lin, 3, 2, 1, DropPolicy.BY_POSITION, 1.0, RANDOM, new Generator(1))).hasMessageContaining("expert dropout");
        assertThatThrownBy(() -> new AdaMoleLinear(lin, 3, 0.0, RANDOM, new Generator(1))).hasMessageContaining("maximum threshold");
        assertThatThrownBy(() -> new LoraMoeLinear(lin, 3, 1.0, RANDOM, new Generator(1))).hasMessageContaining("delta");
        assertThatThrownBy(() -> new LoraMoeLinear(lin, 0, 0.1, RANDOM, new Generator(1))).hasMessageContaining("N >= 1");
        assertThatThrownBy(() -> new LoraMoeLinear(lin, 2, 0.1, RANDOM.withDora(true), new Generator(1))).hasMessageContaining("DoRA");
        assertThat(lin.forwardOverride()).isNull();
        assertThat(lin.weight().requiresGrad()).isTrue();
    }
}
