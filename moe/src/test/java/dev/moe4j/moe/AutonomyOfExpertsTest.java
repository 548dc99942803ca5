package dev.moe4j.moe;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.moe.methods.AutonomyOfExpertsLayer;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** Autonomy-of-Experts: experts chosen by their own activation norms, recomputed here by plain loops. */
class AutonomyOfExpertsTest {
    private static final int D = 5, E = 4, R = 3, FF = 6, K = 2;

    private static AutonomyOfExpertsLayer layer(boolean renormalize, DType dtype, long seed) {
        return new AutonomyOfExpertsLayer(D, E, R, FF, K, renormalize, ExpertActivation.SILU, 0, dtype, new Generator(seed), 0.6);
    }

    @Test
    void expertsWithTheLargestActivationNormsProcessTheToken() {
        for (boolean renormalize : new boolean[] {true, false}) {
            AutonomyOfExpertsLayer layer = layer(renormalize, DType.F64, 1);
            int T = 11;
            Tensor x = TestData.randn(new Generator(2), DType.F64, 1, T, D);
            double[] y = layer.forward(x).toDoubleArray();
            Routing r = layer.lastRouting();
            double[] xs = x.toDoubleArray(), a = layer.gateDown().toDoubleArray(), b = layer.gateUp().toDoubleArray();
            double[] up = layer.upProjection().toDoubleArray(), dn = layer.downProjection().toDoubleArray();
            for (int t = 0; t < T; t++) {
                double[][] z = new double[E][R];
                double[] norm = new double[E];
                for (int e = 0; e < E; e++) {
                    for (int c = 0; c < R; c++) {
                        for (int i = 0; i < D; i++) z[e][c] += a[(e * R + c) * D + i] * xs[t * D + i];
                        norm[e] += z[e][c] * z[e][c];
                    }
                    norm[e] = Math.sqrt(norm[e]);
                }
                Integer[] order = {0, 1, 2, 3};
                final double[] nn = norm;
                Arrays.sort(order, (p, q) -> Double.compare(nn[q], nn[p]));
                double all = 0, sel = 0;
                for (int e = 0; e < E; e++) all += Math.exp(norm[e]);
                for (int j = 0; j < K; j++) sel += Math.exp(norm[order[j]]);
                double[] want = new double[D];
                for (int j = 0; j < K; j++) {
                    int e = order[j];
                    assertThat(r.expertIds()[t * K + j]).as("token " + t + " slot " + j).isEqualTo(e);
                    double weight = Math.exp(norm[e]) / (renormalize ? sel : all);
                    assertThat(r.weights().toDoubleArray()[t * K + j]).isCloseTo(weight, offset(1e-12));
                    double[] h = new double[FF];
                    for (int c = 0; c < FF; c++) {
                        double gate = 0, u = 0;
                        for (int q = 0; q < R; q++) gate += b[(e * FF + c) * R + q] * z[e][q];
                        for (int i = 0; i < D; i++) u += up[(e * FF + c) * D + i] * xs[t * D + i];
                        h[c] = MethodChecks.silu(gate) * u;
                    }
                    for (int o = 0; o < D; o++) {
                        double s = 0;
                        for (int c = 0; c < FF; c++) s += dn[(e * D + o) * FF + c] * h[c];
                        want[o] += weight * s;
                    }
                }
                for (int o = 0; o < D; o++) assertThat(y[t * D + o]).isCloseTo(want[o], offset(1e-12));
            }
        }
    }

    @Test
    void gradients() {
        for (boolean renormalize : new boolean[] {true, false}) {
            AutonomyOfExpertsLayer layer = new AutonomyOfExpertsLayer(D, E, R, FF, K, renormalize, ExpertActivation.SILU, 0.2, DType.F64, new Generator(3), 0.6);
            Tensor x = TestData.param(new Generator(4), 1, 2, 3, D);
            MethodChecks.gradCheck(in -> F.add(F.sum(F.square(layer.forward(in[0]))), layer.auxLoss()), MethodChecks.withParameters(x, layer));
        }
        assertThat(layer(true, DType.F32, 1).namedParameters().keySet()).containsExactly("w_down_gate", "w_up_gate", "up_proj", "down_proj");
    }

    @Test
    void trainingFitsATeacher() {
        AutonomyOfExpertsLayer teacher = layer(true, DType.F32, 20), student = layer(true, DType.F32, 21);
        Tensor x = TestData.randn(new Generator(22), DType.F32, 1, 48, D);
        Tensor target = teacher.forward(x).detach();
        Adam opt = new Adam(student.parameters(), 0.02);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            opt.zeroGrad();
            Tensor loss = F.mseLoss(student.forward(x), target);
            Autograd.backward(loss);
            opt.step();
            if (step == 0) first = loss.item();
            last = loss.item();
        }
        assertThat(last).isLessThan(0.5 * first);
    }

    @Test
    void emptyBatchAndBadInput() {
        AutonomyOfExpertsLayer layer = layer(true, DType.F32, 5);
        assertThat(layer.forward(Tensor.zeros(DType.F32, 0, D)).shape()).containsExactly(0, D);
        assertThat(layer.auxLoss().item()).isZero();
        assertThatThrownBy(() -> layer.forward(Tensor.zeros(DType.F32, 2, D + 1))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("d = 5");
        assertThatThrownBy(() -> new AutonomyOfExpertsLayer(D, E, R, FF, E + 1, true, ExpertActivation.SILU, 0, DType.F32, new Generator(1), 0.1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k must lie in [1, E = 4]");
    }
}
