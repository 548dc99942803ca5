package dev.moe4j.moe;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.methods.ChainOfExperts;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** Chain-of-Experts: routing iterations with a residual inside the layer. */
class ChainOfExpertsTest {

    @Test
    void oneIterationIsAnMoeLayerPlusResidual() {
        MoeOptions o = new MoeOptions().hiddenSize(4).intermediateSize(3).experts(4).topK(2).dtype(DType.F64).initStd(0.8, 0.5).seed(3);
        MoeLayer plain = new MoeLayer(o), inChain = new MoeLayer(o);
        ChainOfExperts chain = new ChainOfExperts(List.of(inChain));
        Tensor x = TestData.randn(new Generator(1), DType.F64, 1, 2, 5, 4);
        double[] want = F.add(plain.forward(x), x).toDoubleArray(), got = chain.forward(x).toDoubleArray();
        for (int i = 0; i < want.length; i++) assertThat(got[i]).isCloseTo(want[i], offset(1e-14));
    }

    @Test
    void iterationsShareTheExpertsAndRouteAgain() {
        ChainOfExperts chain = ChainOfExperts.softmaxTopK(4, 3, 4, 2, 3, false, Balancing.auxLoss(0.1), DType.F64, 7, 0.8);
        assertThat(chain.numIterations()).isEqualTo(3);
        assertThat(chain.iteration(1).experts()).isSameAs(chain.iteration(0).experts());
        assertThat(chain.iteration(1).router()).isNotSameAs(chain.iteration(0).router());
        // experts once, three routers
        assertThat(chain.parameters()).hasSize(2 + 3);
        assertThat(chain.namedParameters().keySet()).containsExactly("0.gate.weight", "0.experts.gate_up_proj", "0.experts.down_proj",
                "1.gate.weight", "2.gate.weight");
        Tensor x = TestData.randn(new Generator(2), DType.F64, 1, 9, 4);
        double[] y = chain.forward(x).toDoubleArray();
        // the same composition by hand
        Tensor h = x;
        for (int i = 0; i < 3; i++) h = F.add(chain.iteration(i).forward(h), h);
        assertThat(y).containsExactly(h.toDoubleArray());
        // routers differ, so the iterations route differently
        boolean differs = false;
        for (int i = 1; i < 3; i++) differs |= !java.util.Arrays.equals(chain.lastRouting(i).expertIds(), chain.lastRouting(0).expertIds());
        assertThat(differs).isTrue();
        double aux = 0;
        for (int i = 0; i < 3; i++) aux += chain.iteration(i).auxLoss().item();
        assertThat(chain.auxLoss().item()).isCloseTo(aux, offset(1e-12));

        ChainOfExperts separate = ChainOfExperts.softmaxTopK(4, 3, 4, 2, 2, true, Balancing.none(), DType.F64, 7, 0.8);
        assertThat(separate.iteration(1).experts()).isNotSameAs(separate.iteration(0).experts());
        assertThat(separate.parameters()).hasSize(2 * 3);
    }

    @Test
    void gradients() {
        for (boolean perIteration : new boolean[] {false, true}) {
            ChainOfExperts chain = ChainOfExperts.softmaxTopK(4, 3, 3, 2, 2, perIteration, Balancing.auxLoss(0.2).withZLoss(0.1), DType.F64, 11, 0.8);
            Tensor x = TestData.param(new Generator(12), 1, 6, 4);
            MethodChecks.gradCheck(in -> F.add(F.sum(F.square(chain.forward(in[0]))), chain.auxLoss()), MethodChecks.withParameters(x, chain));
        }
    }

    @Test
    void trainingFitsATeacher() {
        ChainOfExperts teacher = ChainOfExperts.softmaxTopK(6, 8, 4, 2, 2, false, Balancing.none(), DType.F32, 30, 0.4);
        ChainOfExperts student = ChainOfExperts.softmaxTopK(6, 8, 4, 2, 2, false, Balancing.auxLoss(0.01), DType.F32, 31, 0.4);
        Tensor x = TestData.randn(new Generator(32), DType.F32, 1, 48, 6);
        Tensor target = F.sub(teacher.forward(x), x).detach();
        Adam opt = new Adam(student.parameters(), 0.01);
        double first = 0, last = 0;
        for (int step = 0; step < 50; step++) {
            opt.zeroGrad();
            Tensor mse = F.mseLoss(F.sub(student.forward(x), x), target);
            Autograd.backward(F.add(mse, student.auxLoss()));
            opt.step();
            if (step == 0) first = mse.item();
            last = mse.item();
        }
        assertThat(last).isLessThan(0.5 * first);
    }

    @Test
    void badInput() {
        assertThatThrownBy(() -> new ChainOfExperts(List.of())).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one");
        MoeLayer a = new MoeLayer(new MoeOptions().hiddenSize(4)), b = new MoeLayer(new MoeOptions().hiddenSize(6));
        assertThatThrownBy(() -> new ChainOfExperts(List.of(a, b))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("iteration 1 has d = 6");
        assertThatThrownBy(() -> ChainOfExperts.softmaxTopK(4, 3, 4, 2, 0, false, Balancing.none(), DType.F32, 1, 0.1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aNullOrRepeatedIterationIsRefusedNamingIt() {
        MoeOptions o = new MoeOptions().hiddenSize(4).intermediateSize(3).experts(4).topK(2).dtype(DType.F64).seed(3);
        MoeLayer layer = new MoeLayer(o);
        assertThatThrownBy(() -> new ChainOfExperts(java.util.Arrays.asList(layer, null)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("iteration 1");
        assertThatThrownBy(() -> new ChainOfExperts(java.util.List.of(layer, new MoeLayer(o), layer)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("iterations 0 and 2");
    }
}
