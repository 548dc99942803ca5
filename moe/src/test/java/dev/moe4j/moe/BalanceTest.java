package dev.moe4j.moe;

import dev.moe4j.moe.balance.BalanceLosses;
import dev.moe4j.moe.balance.LossFreeBalancer;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** The balance losses on cases small enough to compute by hand, and the loss-free bias update. */
class BalanceTest {

    @Test
    void switchAuxLossIsOneWhenBalanced() {
        Tensor probs = Tensor.full(DType.F64, 0.25, 1, 8, 4);
        int[] ids = {0, 1, 2, 3, 0, 1, 2, 3};
        assertThat(BalanceLosses.switchLoadBalancing(probs, ids, 1).item()).isCloseTo(1.0, offset(1e-12));
    }

    @Test
    void switchAuxLossByHand() {
        // one group, S = 4 tokens, E = 2: f = [3/4, 1/4], P = mean probs = [0.6, 0.4]
        Tensor probs = Tensor.of(new double[] {0.9, 0.1, 0.7, 0.3, 0.5, 0.5, 0.3, 0.7}, 4, 2);
        // E^2 * mean over (g, e) of f * P = 4 * (0.75 * 0.6 + 0.25 * 0.4) / 2
        double want = 4 * (0.75 * 0.6 + 0.25 * 0.4) / 2;
        assertThat(BalanceLosses.switchLoadBalancing(probs, new int[] {0, 0, 0, 1}, 1).item()).isCloseTo(want, offset(1e-12));
        // with k = 2 an expert counts once per token however many slots name it; -1 marks an unused slot
        Tensor p2 = Tensor.full(DType.F64, 1.0 / 3, 2, 3);
        double l = BalanceLosses.switchLoadBalancing(p2, new int[] {0, 1, 0, -1}, 2).item();
        // f = [1, 1/2, 0], P = 1/3 each: E^2 * mean(f * P) = 9 * (1.5 / 3) / 3
        assertThat(l).isCloseTo(9 * (1.5 / 3) / 3, offset(1e-12));
    }

    @Test
    void zLossByHand() {
        Tensor logits = Tensor.of(new double[] {0, 0, Math.log(3), 0}, 2, 2);
        double want = (Math.pow(Math.log(2), 2) + Math.pow(Math.log(4), 2)) / 2;
        assertThat(BalanceLosses.zLoss(logits).item()).isCloseTo(want, offset(1e-12));
    }

    @Test
    void sequenceBalanceByHand() {
        Tensor s = Tensor.of(new double[] {0.5, 0.5, 0.2, 0.6}, 1, 2, 2);
        // P = ([0.5, 0.5] + [0.25, 0.75]) / 2 = [0.375, 0.625]; f = E / (k S) * counts
        assertThat(BalanceLosses.sequenceBalance(s, new int[] {0, 1}, 1).item()).isCloseTo(0.375 + 0.625, offset(1e-12));
        assertThat(BalanceLosses.sequenceBalance(s, new int[] {0, 0}, 1).item()).isCloseTo(2 * 0.375, offset(1e-12));
    }

    @Test
    void badLossInputs() {
        assertThatThrownBy(() -> BalanceLosses.switchLoadBalancing(Tensor.zeros(DType.F64, 4, 2), new int[] {0, 1}, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("G * S * k = 4");
        assertThatThrownBy(() -> BalanceLosses.switchLoadBalancing(Tensor.zeros(DType.F64, 2, 2), new int[] {0, 2}, 1))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("expert id 2");
    }

    @Test
    void lossFreeUpdateMovesBiasAgainstTheLoad() {
        Tensor bias = Tensor.zeros(DType.F32, 4);
        LossFreeBalancer.update(bias, new int[] {10, 2, 5, 3}, 0.001);
        assertThat(bias.toDoubleArray()).containsExactly(new double[] {-0.001, 0.001, 0, 0.001}, offset(1e-9));
        assertThatThrownBy(() -> LossFreeBalancer.update(bias, new int[] {1, 2}, 0.1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LossFreeBalancer.update(bias, new int[] {1, 2, 3, 4}, -1)).isInstanceOf(IllegalArgumentException.class);
    }
}
