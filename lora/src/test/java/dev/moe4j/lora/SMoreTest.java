package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Activation;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SMoreTest {
    private static final SMoreLinear.Structure TWO = new SMoreLinear.Structure(new int[] {4, 3}, new int[] {2, 1}, new int[] {2, 2}, 3, 2);
    private static final SMoreLinear.Structure THREE = new SMoreLinear.Structure(new int[] {3, 3, 2}, new int[] {1, 1, 1}, new int[] {2, 2, 1}, 3, 2);

    private static SMoreLinear layer(SMoreLinear.Structure s, Activation act, long seed) {
        SMoreLinear l = new SMoreLinear(new Linear(7, 5, true, DType.F64, new Generator(1)), s, act, new Generator(seed));
        try (NoGrad scope = NoGrad.enter()) {
            l.wOut().copyFrom(Tensor.randn(new Generator(seed + 100), DType.F64, l.wOut().shape()));
        }
        return l;
    }

    /** u(l, q) of token t, written out recursively from the recorded tree. */
    private static Tensor node(SMoreLinear l, Tensor xt, int t, int lev, int q, Activation act) {
        int p = l.nodes(lev);
        int id = l.lastIds(lev)[t * p + q];
        double score = l.lastScores(lev)[t * p + q];
        Tensor z = l.b(lev).select(0, id).matmul(l.a(lev).select(0, id).matmul(xt));
        if (lev > 0) {
            int f = l.structure().fanouts()[lev - 1];
            Tensor sum = null;
            for (int j = 0; j < f; j++) {
                Tensor c = node(l, xt, t, lev - 1, q * f + j, act);
                sum = sum == null ? c : sum.add(c);
            }
            z = z.add(l.w(lev).matmul(sum));
        }
        Tensor u = act == null ? z : act.forward(z);
        return u.mul(score);
    }

    private static Tensor reference(SMoreLinear l, Tensor x, Activation act) {
        int levels = l.structure().levels(), top = levels - 1;
        Tensor y = l.baseLayer().forwardBase(x).copy();
        for (int t = 0; t < x.size(0); t++) {
            Tensor sum = null;
            for (int q = 0; q < l.nodes(top); q++) {
                Tensor u = node(l, x.select(0, t), t, top, q, act);
                sum = sum == null ? u : sum.add(u);
            }
            y.select(0, t).addInPlace(l.wOut().matmul(sum));
        }
        return y;
    }

    /** Top-f of a logit row and the softmax over the chosen: {ids..., scores...}. */
    private static double[][] topF(Tensor logits, int f) {
        int n = logits.size(0);
        double[] v = logits.toDoubleArray();
        double[] ids = new double[f], sc = new double[f];
        boolean[] used = new boolean[n];
        double z = 0;
        for (int j = 0; j < f; j++) {
            int best = -1;
            for (int i = 0; i < n; i++) if (!used[i] && (best < 0 || v[i] > v[best])) best = i;
            used[best] = true;
            ids[j] = best;
            sc[j] = Math.exp(v[best]);
            z += sc[j];
        }
        for (int j = 0; j < f; j++) sc[j] /= z;
        return new double[][] {ids, sc};
    }

    @Test
    void residualTreeMatchesTheRecursiveDefinition() {
        for (SMoreLinear.Structure s : List.of(TWO, THREE)) {
            for (Activation act : new Activation[] {null, Activation.tanh()}) {
                SMoreLinear l = layer(s, act, 2);
                Tensor x = Tensor.randn(new Generator(3), DType.F64, 6, 7);
                Tensor y = l.forward(x);
                close(y, reference(l, x, act), Checks.F64, "S'MoRE " + s + " " + act);
                assertThat(l.lastIds(0).length).isEqualTo(6 * l.nodes(0));
            }
        }
        assertThat(new SMoreLinear.Structure(new int[] {4, 3}, new int[] {2, 1}, new int[] {2, 2}, 3, 2).width(1)).isEqualTo(4 * 2 + 3);
    }

    @Test
    void gatesRouteTopDownWithTheParentsKeys() {
        SMoreLinear l = layer(TWO, null, 4);
        Tensor x = Tensor.randn(new Generator(5), DType.F64, 4, 7);
        l.forward(x);
        Tensor c = l.gateProjection().forwardBase(x);
        for (int t = 0; t < 4; t++) {
            double[][] top = topF(l.gate(1).forwardBase(c.select(0, t)), 2);
            for (int q = 0; q < 2; q++) {
                assertThat(l.lastIds(1)[t * 2 + q]).isEqualTo((int) top[0][q]);
                assertThat(l.lastScores(1)[t * 2 + q]).isCloseTo(top[1][q], Offset.offset(1e-12));
                Tensor key = l.keys(1).select(0, (int) top[0][q]);
                Tensor ctx = Tensor.zeros(DType.F64, 5);
                ctx.narrow(0, 0, 3).copyFrom(c.select(0, t));
                ctx.narrow(0, 3, 2).copyFrom(key);
                double[][] child = topF(l.gate(0).forwardBase(ctx), 2);
                for (int j = 0; j < 2; j++) {
                    assertThat(l.lastIds(0)[t * 4 + q * 2 + j]).isEqualTo((int) child[0][j]);
                    assertThat(l.lastScores(0)[t * 4 + q * 2 + j]).isCloseTo(child[1][j], Offset.offset(1e-12));
                }
            }
        }
    }

    @Test
    void oneLevelIsATopFMixtureOfLowRankExperts() {
        SMoreLinear l = layer(new SMoreLinear.Structure(new int[] {5}, new int[] {2}, new int[] {2}, 4, 1), null, 6);
        Tensor x = Tensor.randn(new Generator(7), DType.F64, 5, 7);
        Tensor y = l.forward(x);
        Tensor c = l.gateProjection().forwardBase(x);
        Tensor want = l.baseLayer().forwardBase(x).copy();
        for (int t = 0; t < 5; t++) {
            double[][] top = topF(l.gate(0).forwardBase(c.select(0, t)), 2);
            for (int j = 0; j < 2; j++) {
                int id = (int) top[0][j];
                want.select(0, t).addInPlace(l.wOut().matmul(l.b(0).select(0, id).matmul(l.a(0).select(0, id).matmul(x.select(0, t)))).mul(top[1][j]));
            }
        }
        close(y, want, Checks.F64, "one-level S'MoRE");
    }

    @Test
    void startsAsTheBaseLayerAndHasGradients() {
        SMoreLinear fresh = new SMoreLinear(new Linear(7, 5, true, DType.F64, new Generator(1)), THREE, null, new Generator(2));
        Tensor x = Tensor.randn(new Generator(3), DType.F64, 4, 7);
        close(fresh.forward(x), fresh.baseLayer().forwardBase(x), Checks.F64, "W_out = 0 at start");
        SMoreLinear l = layer(TWO, Activation.tanh(), 2);
        Tensor in = x.copy().setRequiresGrad(true);
        GradCheck.assertGradients(a -> l.forward(a[0]), in, l.a(0), l.b(0), l.a(1), l.b(1), l.w(1), l.wOut(), l.keys(1),
                l.gate(0).weight(), l.gate(1).weight(), l.gateProjection().weight(), l.gateProjection().bias());
    }

    @Test
    void trains() {
        Linear lin = new Linear(8, 6, true, DType.F32, new Generator(1));
        Tensor x = Tensor.randn(new Generator(5), DType.F32, 64, 8);
        Tensor target = lin.forwardBase(x).add(x.matmul(Tensor.randn(new Generator(6), DType.F32, 8, 6)).mul(0.3));
        SMoreLinear l = new SMoreLinear(lin, TWO, null, new Generator(2));
        List<Tensor> params = new ArrayList<>(l.trainableParameters().values());
        assertThat(params).doesNotContain(lin.weight(), lin.bias());
        Adam opt = new Adam(params, 2e-2);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            opt.zeroGrad();
            Tensor loss = F.mseLoss(lin.forward(x), target);
            if (step == 0) first = loss.item();
            last = loss.item();
            Autograd.backward(loss);
            opt.step();
        }
        assertThat(last).as("S'MoRE loss after 60 steps vs first").isLessThan(0.5 * first);
        assertThat(lin.weight().grad()).isNull();
        l.unwrap();
        assertThat(lin.forwardOverride()).isNull();
    }

    @Test
    void badStructure() {
        assertThatThrownBy(() -> new SMoreLinear.Structure(new int[] {3}, new int[] {1}, new int[] {4}, 2, 2)).hasMessageContaining("1 <= f <= s");
        assertThatThrownBy(() -> new SMoreLinear.Structure(new int[] {3, 2}, new int[] {1}, new int[] {1, 1}, 2, 2)).hasMessageContaining("levels disagree");
        assertThatThrownBy(() -> new SMoreLinear.Structure(new int[0], new int[0], new int[0], 2, 2)).hasMessageContaining("at least one level");
    }
}
