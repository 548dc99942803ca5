package dev.moe4j.autograd.optim;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Each optimizer on problems with a known optimum, and its first steps against the update rule
 * written out by hand.
 */
class OptimizerTest {
    private final Generator gen = new Generator(17);

    private static void assertAllNear(double[] got, double want, double tol) {
        for (int i = 0; i < got.length; i++) assertThat(got[i]).as("element %d", i).isCloseTo(want, within(tol));
    }

    /** f(x) = sum a_i (x_i - c_i)^2 with a_i in [0.5, 2]: optimum x = c. */
    private double[] minimizeQuadratic(Function<List<Tensor>, Optimizer> make, int steps) {
        double[] a = {0.5, 1.0, 2.0, 1.5};
        double[] c = {1.0, -2.0, 0.5, 3.0};
        Tensor x = Tensor.zeros(DType.F64, 4).setRequiresGrad(true);
        Tensor ta = Tensor.of(a, 4), tc = Tensor.of(c, 4);
        Optimizer opt = make.apply(List.of(x));
        for (int s = 0; s < steps; s++) {
            opt.zeroGrad();
            Tensor d = F.sub(x, tc);
            Autograd.backward(F.sum(F.mul(F.mul(d, d), ta)));
            opt.step();
        }
        double[] got = x.toDoubleArray();
        for (int i = 0; i < 4; i++) got[i] -= c[i];
        return got;
    }

    @Test
    void sgdFindsTheMinimumOfAQuadratic() {
        assertAllNear(minimizeQuadratic(p -> new SGD(p, 0.1), 200), 0.0, 1e-8);
    }

    @Test
    void sgdWithMomentumFindsTheMinimum() {
        assertAllNear(minimizeQuadratic(p -> new SGD(p, 0.05, 0.9, 0, 0, false), 400), 0.0, 1e-8);
    }

    @Test
    void sgdWithNesterovFindsTheMinimum() {
        assertAllNear(minimizeQuadratic(p -> new SGD(p, 0.05, 0.9, 0, 0, true), 400), 0.0, 1e-8);
    }

    @Test
    void adamFindsTheMinimum() {
        assertAllNear(minimizeQuadratic(p -> new Adam(p, 0.05), 2000), 0.0, 1e-4);
    }

    @Test
    void adamWWithoutDecayFindsTheMinimum() {
        assertAllNear(minimizeQuadratic(p -> new AdamW(p, 0.05, 0.9, 0.999, 1e-8, 0.0), 2000), 0.0, 1e-4);
    }

    @Test
    void adamWWithDecayShrinksTowardsZeroOnAFlatLoss() {
        // zero gradient: Adam's step is 0, only the decoupled decay acts: p_t = p_0 (1 - lr wd)^t
        Tensor x = Tensor.full(DType.F64, 3.0, 2).setRequiresGrad(true);
        AdamW opt = new AdamW(List.of(x), 0.1, 0.9, 0.999, 1e-8, 0.5);
        for (int s = 0; s < 10; s++) {
            x.setGrad(Tensor.zeros(DType.F64, 2));
            opt.step();
        }
        assertAllNear(x.toDoubleArray(), 3.0 * Math.pow(1 - 0.05, 10), 1e-12);
    }

    @Test
    void linearRegressionRecoversTheGeneratingWeights() {
        // y = X w* + b*, noise free: the least-squares optimum is (w*, b*)
        int n = 64, d = 3;
        Tensor xs = Tensor.randn(gen, DType.F64, n, d);
        Tensor wStar = Tensor.of(new double[] {1.5, -2.0, 0.25}, 1, d);
        Tensor bStar = Tensor.of(new double[] {0.7}, 1);
        Tensor ys = xs.matmul(wStar.mT()).add(bStar);
        for (String kind : new String[] {"sgd", "adam"}) {
            Linear model = new Linear(d, 1, true, DType.F64, new Generator(1));
            Optimizer opt = kind.equals("sgd") ? new SGD(model.parameters(), 0.1, 0.9, 0, 0, true) : new Adam(model.parameters(), 0.05);
            for (int s = 0; s < 1500; s++) {
                opt.zeroGrad();
                Autograd.backward(F.mseLoss(model.forward(xs), ys));
                opt.step();
            }
            assertThat(model.weight().toDoubleArray()).as(kind).containsExactly(wStar.toDoubleArray(), within(1e-3));
            assertThat(model.bias().toDoubleArray()).as(kind).containsExactly(bStar.toDoubleArray(), within(1e-3));
        }
    }

    @Test
    void firstStepsFollowTheUpdateRules() {
        double[] g1 = {0.5, -1.0}, g2 = {0.25, 2.0};
        double lr = 0.1, mu = 0.9, wd = 0.01, b1 = 0.8, b2 = 0.9, eps = 1e-8;
        double[] p0 = {1.0, -1.0};

        // SGD with momentum, dampening 0.1, weight decay, Nesterov off
        double[] want = p0.clone(), buf = new double[2];
        Tensor p = Tensor.of(p0, 2).setRequiresGrad(true);
        SGD sgd = new SGD(List.of(p), lr, mu, 0.1, wd, false);
        for (int t = 1; t <= 2; t++) {
            double[] g = t == 1 ? g1 : g2;
            for (int i = 0; i < 2; i++) {
                double gi = g[i] + wd * want[i];
                buf[i] = t == 1 ? gi : mu * buf[i] + 0.9 * gi;
                want[i] -= lr * buf[i];
            }
            p.setGrad(Tensor.of(g, 2));
            sgd.step();
        }
        assertThat(p.toDoubleArray()).containsExactly(want, within(1e-15));

        // Nesterov
        want = p0.clone();
        buf = new double[2];
        p = Tensor.of(p0, 2).setRequiresGrad(true);
        SGD nag = new SGD(List.of(p), lr, mu, 0, 0, true);
        for (int t = 1; t <= 2; t++) {
            double[] g = t == 1 ? g1 : g2;
            for (int i = 0; i < 2; i++) {
                buf[i] = t == 1 ? g[i] : mu * buf[i] + g[i];
                want[i] -= lr * (g[i] + mu * buf[i]);
            }
            p.setGrad(Tensor.of(g, 2));
            nag.step();
        }
        assertThat(p.toDoubleArray()).containsExactly(want, within(1e-15));

        // Adam (L2) and AdamW (decoupled)
        for (boolean decoupled : new boolean[] {false, true}) {
            want = p0.clone();
            double[] m = new double[2], v = new double[2];
            p = Tensor.of(p0, 2).setRequiresGrad(true);
            Optimizer adam = decoupled ? new AdamW(List.of(p), lr, b1, b2, eps, wd) : new Adam(List.of(p), lr, b1, b2, eps, wd);
            for (int t = 1; t <= 2; t++) {
                double[] g = t == 1 ? g1 : g2;
                for (int i = 0; i < 2; i++) {
                    double gi = g[i];
                    if (decoupled) want[i] *= 1 - lr * wd;
                    else gi += wd * want[i];
                    m[i] = b1 * m[i] + (1 - b1) * gi;
                    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                    double mhat = m[i] / (1 - Math.pow(b1, t)), vhat = v[i] / (1 - Math.pow(b2, t));
                    want[i] -= lr * mhat / (Math.sqrt(vhat) + eps);
                }
                p.setGrad(Tensor.of(g, 2));
                adam.step();
            }
            assertThat(p.toDoubleArray()).as(decoupled ? "AdamW" : "Adam").containsExactly(want, within(1e-14));
        }
    }

    @Test
    void parametersWithoutGradientsAreLeftAlone() {
        Tensor a = Tensor.ones(DType.F64, 2).setRequiresGrad(true);
        Tensor b = Tensor.ones(DType.F64, 2).setRequiresGrad(true);
        a.setGrad(Tensor.ones(DType.F64, 2));
        new SGD(List.of(a, b), 0.5).step();
        assertThat(a.toDoubleArray()).containsExactly(0.5, 0.5);
        assertThat(b.toDoubleArray()).containsExactly(1.0, 1.0);
    }

    @Test
    void badArgumentsAreRejected() {
        Tensor p = Tensor.ones(DType.F64, 2).setRequiresGrad(true);
        assertThatThrownBy(() -> new SGD(List.of(p), -1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> new SGD(List.of(p), 0.1, 0, 0, 0, true)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Nesterov");
        assertThatThrownBy(() -> new Adam(List.of(p), 0.1, 1.0, 0.9, 1e-8, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new SGD(List.of(Tensor.ones(2)), 0.1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("requiresGrad");
    }

    @Test
    void clipGradNormScalesAllGradientsTogether() {
        Tensor a = Tensor.ones(DType.F64, 2).setRequiresGrad(true);
        Tensor b = Tensor.ones(DType.F64, 1).setRequiresGrad(true);
        Tensor c = Tensor.ones(DType.F64, 1).setRequiresGrad(true);
        a.setGrad(Tensor.of(new double[] {3, 0}, 2));
        b.setGrad(Tensor.of(new double[] {4}, 1));
        double total = GradClip.clipGradNorm(List.of(a, b, c), 1.0);
        assertThat(total).isCloseTo(5.0, within(1e-12));
        double s = 1.0 / (5.0 + 1e-6);
        assertThat(a.grad().toDoubleArray()).containsExactly(new double[] {3 * s, 0}, within(1e-12));
        assertThat(b.grad().toDoubleArray()).containsExactly(new double[] {4 * s}, within(1e-12));
        // under the limit nothing changes
        assertThat(GradClip.clipGradNorm(List.of(a, b), 10.0)).isCloseTo(1.0, within(1e-5));
        assertThat(b.grad().toDoubleArray()).containsExactly(new double[] {4 * s}, within(1e-12));
    }

    @Test
    void schedules() {
        LrSchedule warm = LrSchedule.linearWarmup(1.0, 4);
        assertThat(warm.at(0)).isEqualTo(0.25);
        assertThat(warm.at(3)).isEqualTo(1.0);
        assertThat(warm.at(100)).isEqualTo(1.0);
        LrSchedule cos = LrSchedule.cosineDecay(1.0, 10, 0.1);
        assertThat(cos.at(0)).isCloseTo(1.0, within(1e-12));
        assertThat(cos.at(5)).isCloseTo(0.55, within(1e-12));
        assertThat(cos.at(10)).isCloseTo(0.1, within(1e-12));
        assertThat(cos.at(20)).isCloseTo(0.1, within(1e-12));
        LrSchedule wc = LrSchedule.warmupCosine(2.0, 2, 12, 0.0);
        assertThat(wc.at(0)).isEqualTo(1.0);
        assertThat(wc.at(2)).isCloseTo(2.0, within(1e-12));
        assertThat(wc.at(7)).isCloseTo(1.0, within(1e-12));
        assertThat(wc.at(12)).isCloseTo(0.0, within(1e-12));
        for (int s = 3; s < 12; s++) assertThat(wc.at(s)).isLessThan(wc.at(s - 1));
        Tensor p = Tensor.ones(DType.F64, 1).setRequiresGrad(true);
        SGD opt = new SGD(List.of(p), 1.0);
        opt.setLr(wc.at(0));
        assertThat(opt.lr()).isEqualTo(1.0);
        assertThatThrownBy(() -> LrSchedule.warmupCosine(1, 5, 5, 0)).isInstanceOf(IllegalArgumentException.class);
        try (NoGrad scope = NoGrad.enter()) {
            assertThat(opt.params()).containsExactly(p);
        }
    }
}
