package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/** Short training runs of the DynMoLE, Mixture-of-Routers and ensemble layers towards a low-rank teacher. */
class MoreMixturesTrainTest {

    private static void trains(Function<Linear, LoraMixtureLinear> make, String name) {
        Linear lin = new Linear(12, 8, true, DType.F32, new Generator(1));
        Tensor in = Tensor.randn(new Generator(5), DType.F32, 64, 12);
        Tensor u = Tensor.randn(new Generator(6), DType.F32, 8, 2), v = Tensor.randn(new Generator(7), DType.F32, 2, 12);
        Tensor target = lin.forwardBase(in).add(in.matmul(v.mT()).matmul(u.mT()).mul(0.3));
        LoraMixtureLinear l = make.apply(lin);
        List<Tensor> params = new ArrayList<>(l.trainableParameters().values());
        assertThat(params).doesNotContain(lin.weight(), lin.bias());
        Adam opt = new Adam(params, 2e-2);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            opt.zeroGrad();
            Tensor loss = F.mseLoss(lin.forward(in), target);
            if (l.auxLoss() != null) loss = F.add(loss, l.auxLoss());
            if (step == 0) first = loss.item();
            last = loss.item();
            Autograd.backward(loss);
            opt.step();
        }
        assertThat(last).as(name + " loss after 60 steps vs first").isLessThan(0.5 * first);
        assertThat(lin.weight().grad()).isNull();
    }

    @Test
    void dynMoleTrains() {
        trains(b -> new DynMoleLinear(b, 4, DynMoleLinear.Settings.defaults(), AdapterSpec.of(2, 4), new Generator(2)), "DynMoLE");
    }

    @Test
    void mixtureOfRoutersTrains() {
        trains(b -> new MixtureOfRoutersLinear(b, 4, 3, 2, AdapterSpec.of(2, 4), new Generator(2)), "Mixture of Routers");
    }

    @Test
    void ensembleTrains() {
        trains(b -> new LoraEnsembleLinear(b, 3, AdapterSpec.of(2, 4), new Generator(2)), "LoRA ensemble");
    }
}
