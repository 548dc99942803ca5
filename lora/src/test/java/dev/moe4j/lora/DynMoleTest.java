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

class DynMoleTest {
    private static final AdapterSpec RANDOM = AdapterSpec.of(2, 4).withInit(LoraInit.RANDOM);

    private static Linear base(int in, int out) { return new Linear(in, out, true, DType.F64, new Generator(1)); }

    private static Tensor expert(LoraExpertBank bank, int i, Tensor xt) {
        return bank.b().select(0, i).matmul(bank.a().select(0, i).matmul(xt)).mul(bank.scaling());
    }

    /** The Tsallis entropy written out for one row, normalised by its value at the uniform distribution. */
    private static double tsallis(double[] p, double q) {
        int n = p.length;
        double s = 0, max;
        if (q == 1) {
            for (double v : p) s -= v * Math.log(v);
            max = Math.log(n);
        } else {
            double sum = 0;
            for (double v : p) sum += Math.pow(v, q);
            s = (1 - sum) / (q - 1);
            max = (1 - n * Math.pow(1.0 / n, q)) / (q - 1);
        }
        return s / max;
    }

    @Test
    void tsallisEntropyIsOneAtUniformAndNearZeroWhenPeaked() {
        for (double q : new double[] {0.5, 1.0, 1.1, 2.0}) {
            Tensor p = Tensor.of(new double[] {0.25, 0.25, 0.25, 0.25, 0.997, 0.001, 0.001, 0.001, 0.1, 0.2, 0.3, 0.4}, 3, 4);
            double[] h = TsallisEntropy.normalized(p, q).toDoubleArray();
            assertThat(h[0]).isCloseTo(1.0, Offset.offset(1e-12));
            assertThat(h[1]).isLessThan(0.1);
            double[] row = {0.1, 0.2, 0.3, 0.4};
            assertThat(h[2]).isCloseTo(tsallis(row, q), Offset.offset(1e-12));
            assertThat(TsallisEntropy.normalized(row, 0, 4, q)).isCloseTo(tsallis(row, q), Offset.offset(1e-12));
        }
        assertThat(TsallisEntropy.normalized(Tensor.of(new double[] {1.0}, 1, 1), 1.1).item()).isEqualTo(0.0);
        assertThatThrownBy(() -> TsallisEntropy.normalized(Tensor.of(new double[] {1.0}, 1, 1), 2.5)).hasMessageContaining("(0, 2]");
    }

    @Test
    void nearUniformRouterRoutesSoftlyAndPeakedRouterSparsely() {
        DynMoleLinear l = new DynMoleLinear(base(6, 5), 4, DynMoleLinear.Settings.defaults(), RANDOM, new Generator(2));
        Tensor x = Tensor.randn(new Generator(3), DType.F64, 3, 6);
        try (NoGrad s = NoGrad.enter()) {
            l.gate().weight().fill(0);                                   // p = 1/4 everywhere: H = 1 > 0.9
        }
        Tensor y = l.forward(x);
        assertThat(l.lastSoft()).containsOnly(true);
        assertThat(l.lastActiveCounts()).containsOnly(4);
        Tensor want = l.baseLayer().forwardBase(x).copy();
        for (int t = 0; t < 3; t++) for (int i = 0; i < 4; i++) want.select(0, t).addInPlace(expert(l.experts(), i, x.select(0, t)).mul(0.25));
        close(y, want, Checks.F64, "soft routing over all experts");

        try (NoGrad s = NoGrad.enter()) {
            l.gate().weight().set(30.0, 2, 1);                           // tokens along e_1 strongly prefer expert 2
        }
        Tensor peaked = Tensor.zeros(DType.F64, 3, 6);
        for (int t = 0; t < 3; t++) peaked.set(1.0 + t, t, 1);
        Tensor yp = l.forward(peaked);
        assertThat(l.lastSoft()).containsOnly(false);
        assertThat(l.lastActiveCounts()).containsOnly(2);                // top-p stops at one expert, keepTopK floors to 2
        Tensor p = peaked.matmul(l.gate().weight().mT()).softmax(-1);
        Tensor wantP = l.baseLayer().forwardBase(peaked).copy();
        for (int t = 0; t < 3; t++) {
            assertThat(p.getDouble(t, 2)).isGreaterThan(0.99);
            wantP.select(0, t).addInPlace(expert(l.experts(), 2, peaked.select(0, t)).mul(p.getDouble(t, 2)));
            wantP.select(0, t).addInPlace(expert(l.experts(), 0, peaked.select(0, t)).mul(p.getDouble(t, 0)));   // ties: lower id
        }
        close(yp, wantP, Checks.F64, "sparse routing: the top expert plus the keepTopK floor");
    }

    @Test
    void routingFollowsTheEntropyRuleTokenByToken() {
        DynMoleLinear.Settings st = new DynMoleLinear.Settings(0.8, 1.1, 0.6, 1, 0.01, 0.001);
        DynMoleLinear l = new DynMoleLinear(base(7, 5), 5, st, RANDOM, new Generator(4));
        Tensor x = Tensor.randn(new Generator(5), DType.F64, 40, 7);
        for (int t = 0; t < 40; t++) x.select(0, t).copyFrom(x.select(0, t).mul(0.3 + 0.2 * t));   // from flat to peaked
        Tensor y = l.forward(x);
        Tensor p = x.matmul(l.gate().weight().mT()).softmax(-1);
        Tensor want = l.baseLayer().forwardBase(x).copy();
        boolean anySoft = false, anySparse = false;
        for (int t = 0; t < 40; t++) {
            double[] row = new double[5];
            for (int i = 0; i < 5; i++) row[i] = p.getDouble(t, i);
            boolean soft = tsallis(row, 1.1) > 0.8;
            assertThat(l.lastSoft()[t]).as("token " + t).isEqualTo(soft);
            Integer[] order = {0, 1, 2, 3, 4};
            Arrays.sort(order, (a, b) -> Double.compare(row[b], row[a]));
            double cum = 0;
            int active = 0;
            for (int j = 0; j < 5; j++) {
                int i = order[j];
                cum += row[i];
                if (soft || j < 1 || cum <= 0.6) {
                    active++;
                    want.select(0, t).addInPlace(expert(l.experts(), i, x.select(0, t)).mul(row[i]));
                }
            }
            assertThat(l.lastActiveCounts()[t]).as("token " + t).isEqualTo(active);
            anySoft |= soft;
            anySparse |= !soft;
        }
        assertThat(anySoft && anySparse).as("the batch holds both kinds of tokens").isTrue();
        close(y, want, Checks.F64, "DynMoLE output");

        double meanH = 0;
        double[] f = new double[5], pm = new double[5];
        for (int t = 0; t < 40; t++) {
            double[] row = new double[5];
            for (int i = 0; i < 5; i++) row[i] = p.getDouble(t, i);
            meanH += tsallis(row, 1.1) / 40;
        }
        Tensor yAgain = l.forward(x);
        close(yAgain, y, Checks.F64, "deterministic");
        assertThat(l.lastEntropyLoss().item()).isCloseTo(meanH, Offset.offset(1e-12));
        double balance = 0;
        for (int t = 0; t < 40; t++) {
            double[] row = new double[5];
            for (int i = 0; i < 5; i++) row[i] = p.getDouble(t, i);
            boolean[] act = new boolean[5];
            DynMoleLinear.select(row, 0, 5, tsallis(row, 1.1), st, act);
            for (int i = 0; i < 5; i++) {
                if (act[i]) f[i] += row[i] / 40;
                pm[i] += row[i] / 40;
            }
        }
        for (int i = 0; i < 5; i++) balance += 5 * f[i] * pm[i];
        assertThat(l.lastBalanceLoss().item()).isCloseTo(balance, Offset.offset(1e-12));
        assertThat(l.auxLoss().item()).isCloseTo(0.01 * meanH + 0.001 * balance, Offset.offset(1e-12));
    }

    @Test
    void gradients() {
        DynMoleLinear.Settings st = new DynMoleLinear.Settings(0.93, 1.1, 0.7, 1, 0.01, 0.001);
        DynMoleLinear l = new DynMoleLinear(base(5, 4), 3, st, RANDOM, new Generator(2));
        Tensor in = Tensor.randn(new Generator(3), DType.F64, 8, 5);
        for (int t = 0; t < 8; t++) in.select(0, t).copyFrom(in.select(0, t).mul(0.2 + 0.8 * t));
        in.setRequiresGrad(true);
        l.forward(in);
        boolean[] soft = l.lastSoft();
        boolean both = false;
        for (boolean b : soft) both |= b != soft[0];
        assertThat(both).as("soft and sparse tokens in the checked batch").isTrue();
        GradCheck.assertGradients(a -> l.forward(a[0]), in, l.experts().a(), l.experts().b(), l.gate().weight());
        GradCheck.assertGradients(a -> { l.forward(a[0]); return l.auxLoss(); }, in, l.gate().weight());
    }

    @Test
    void badSettings() {
        assertThatThrownBy(() -> new DynMoleLinear.Settings(1.5, 1.1, 0.7, 1, 0, 0)).hasMessageContaining("entropy threshold");
        assertThatThrownBy(() -> new DynMoleLinear.Settings(0.9, 1.1, 0.0, 1, 0, 0)).hasMessageContaining("top-p");
        assertThatThrownBy(() -> new DynMoleLinear.Settings(0.9, 1.1, 0.7, 0, 0, 0)).hasMessageContaining("keepTopK");
        Linear lin = base(5, 4);
        assertThatThrownBy(() -> new DynMoleLinear(lin, 2, new DynMoleLinear.Settings(0.9, 1.1, 0.75, 3, 0.01, 0.001), RANDOM, new Generator(1)))
                .hasMessageContaining("exceeds N = 2");
        assertThat(lin.forwardOverride()).isNull();
    }
}
