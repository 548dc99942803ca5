package dev.moe4j.lora;

import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.lora.merge.LoraMerge;
import dev.moe4j.lora.merge.LowRankUpdate;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LoraEnsembleTest {
    private static final AdapterSpec RANDOM = AdapterSpec.of(2, 4).withInit(LoraInit.RANDOM);

    @Test
    void ensembleAveragesTheAdaptersAndEqualsItsAveragedDelta() {
        Linear lin = new Linear(7, 5, true, DType.F64, new Generator(1));
        LoraEnsembleLinear l = new LoraEnsembleLinear(lin, 3, RANDOM, new Generator(2));
        Tensor x = Tensor.randn(new Generator(3), DType.F64, 6, 7);
        for (double[] c : new double[][] {null, {0.5, 0.2, 0.3}}) {
            if (c != null) l.setWeights(c);
            double[] w = l.weights();
            Tensor y = l.forward(x);
            Tensor want = lin.forwardBase(x).copy();
            for (int i = 0; i < 3; i++) want.addInPlace(LowRankUpdate.of(l.experts(), i).delta().mul(w[i]).matmul(x.mT()).mT());
            close(y, want, Checks.F64, "ensemble output");
            Linear folded = new Linear(7, 5, true, DType.F64, new Generator(1));
            LoraMerge.foldInto(folded, l.averagedDelta());
            close(folded.forwardBase(x), y, Checks.F64, "averaging outputs = averaging the weight updates");
        }
        Tensor in = x.copy().setRequiresGrad(true);
        GradCheck.assertGradients(a -> l.forward(a[0]), in, l.experts().a(), l.experts().b());
    }

    @Test
    void factorAverageEqualsTheEnsembleOnlyWhenAdaptersAgree() {
        Linear lin = new Linear(7, 5, true, DType.F64, new Generator(1));
        LoraEnsembleLinear l = new LoraEnsembleLinear(lin, 2, RANDOM, new Generator(2));
        assertThat(Checks.relErr(l.averagedFactors().delta(), l.averagedDelta())).as("different adapters").isGreaterThan(1e-3);
        try (NoGrad s = NoGrad.enter()) {
            l.experts().a().select(0, 1).copyFrom(l.experts().a().select(0, 0));
            l.experts().b().select(0, 1).copyFrom(l.experts().b().select(0, 0));
        }
        close(l.averagedFactors().delta(), l.averagedDelta(), Checks.F64, "identical adapters");
        close(l.averagedFactors().a(), l.experts().a().select(0, 0), Checks.F64, "factor average of identical adapters");
        assertThatThrownBy(() -> l.setWeights(1.0)).hasMessageContaining("1 ensemble weights for E = 2");
    }
}
