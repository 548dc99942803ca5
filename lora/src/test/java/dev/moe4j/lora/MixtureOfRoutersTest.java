package dev.moe4j.lora;

import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MixtureOfRoutersTest {
    private static final AdapterSpec RANDOM = AdapterSpec.of(2, 4).withInit(LoraInit.RANDOM);

    private static Linear base(int in, int out) { return new Linear(in, out, true, DType.F64, new Generator(1)); }

    private static Tensor expert(LoraExpertBank bank, int i, Tensor xt) {
        return bank.b().select(0, i).matmul(bank.a().select(0, i).matmul(xt)).mul(bank.scaling());
    }

    @Test
    void mainRouterWeighsTheSubRoutersDistributions() {
        MixtureOfRoutersLinear l = new MixtureOfRoutersLinear(base(8, 6), 5, 3, 2, RANDOM, new Generator(2));
        Tensor x = Tensor.randn(new Generator(3), DType.F64, 11, 8).mul(2);
        Tensor y = l.forward(x);
        Tensor m = x.matmul(l.mainRouter().weight().mT()).softmax(-1);
        Tensor want = l.baseLayer().forwardBase(x).copy();
        int[] ids = l.lastIds();
        for (int t = 0; t < 11; t++) {
            double[] pt = new double[5];
            for (int r = 0; r < 3; r++) {
                Tensor pr = x.select(0, t).matmul(l.subRouters().get(r).weight().mT()).softmax(-1);
                for (int i = 0; i < 5; i++) pt[i] += m.getDouble(t, r) * pr.getDouble(i);
            }
            for (int i = 0; i < 5; i++) assertThat(l.lastDistribution().getDouble(t, i)).isCloseTo(pt[i], Offset.offset(1e-12));
            assertThat(Arrays.stream(pt).sum()).isCloseTo(1.0, Offset.offset(1e-12));
            Integer[] order = {0, 1, 2, 3, 4};
            Arrays.sort(order, (a, b) -> Double.compare(pt[b], pt[a]));
            assertThat(new int[] {ids[2 * t], ids[2 * t + 1]}).containsExactly(order[0], order[1]);
            double z = pt[order[0]] + pt[order[1]];
            for (int j = 0; j < 2; j++) want.select(0, t).addInPlace(expert(l.experts(), order[j], x.select(0, t)).mul(pt[order[j]] / z));
        }
        close(y, want, Checks.F64, "Mixture of Routers output");
        assertThat(l.auxLoss().item()).isGreaterThan(0);
    }

    @Test
    void identicalSubRoutersMakeTheMainRouterIrrelevant() {
        MixtureOfRoutersLinear l = new MixtureOfRoutersLinear(base(6, 5), 4, 2, 2, RANDOM, new Generator(2));
        try (NoGrad s = NoGrad.enter()) {
            l.subRouters().get(1).weight().copyFrom(l.subRouters().get(0).weight());
        }
        Tensor x = Tensor.randn(new Generator(3), DType.F64, 9, 6);
        Tensor y = l.forward(x);
        try (NoGrad s = NoGrad.enter()) {
            l.mainRouter().weight().copyFrom(Tensor.randn(new Generator(9), DType.F64, 2, 6).mul(5));
        }
        close(l.forward(x), y, Checks.F64, "output after changing the main router");
        close(l.lastDistribution(), x.matmul(l.subRouters().get(0).weight().mT()).softmax(-1), Checks.F64, "P equals the shared sub-router's p");
    }

    @Test
    void gradientsReachEveryRouter() {
        MixtureOfRoutersLinear l = new MixtureOfRoutersLinear(base(5, 4), 4, 2, 2, RANDOM, new Generator(2));
        Tensor in = Tensor.randn(new Generator(3), DType.F64, 7, 5).setRequiresGrad(true);
        GradCheck.assertGradients(a -> l.forward(a[0]), in, l.experts().a(), l.experts().b(), l.mainRouter().weight(),
                l.subRouters().get(0).weight(), l.subRouters().get(1).weight());
        GradCheck.assertGradients(a -> { l.forward(a[0]); return l.auxLoss(); }, in, l.mainRouter().weight(), l.subRouters().get(1).weight());
    }

    @Test
    void badInput() {
        Linear lin = base(6, 5);
        assertThatThrownBy(() -> new MixtureOfRoutersLinear(lin, 3, 0, 1, RANDOM, new Generator(1))).hasMessageContaining("R >= 1");
        assertThatThrownBy(() -> new MixtureOfRoutersLinear(lin, 3, 2, 4, RANDOM, new Generator(1))).hasMessageContaining("top-k");
        assertThat(lin.forwardOverride()).isNull();
    }
}
