package dev.moe4j.moe.balance;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * Auxiliary-loss-free load balancing (Wang et al., "Auxiliary-Loss-Free Load Balancing Strategy for
 * Mixture-of-Experts"; used by DeepSeek-V3): each expert has a bias b_e added to its score for the
 * choice of experts only (it never enters the gate weights, so it adds no gradient interference).
 * After each training step, with the per-expert load c_e of the batch:
 * <pre>
 *   b_e += u * sign(mean(c) - c_e)
 * </pre>
 * Overloaded experts become less attractive, idle ones more. The update runs outside the gradient.
 */
public final class LossFreeBalancer {
    private LossFreeBalancer() {}

    /**
     * Applies one update to the bias, in place.
     *
     * @param bias       [E] the selection bias buffer
     * @param load       [E] tokens each expert received in the step
     * @param updateRate u, {@code >= 0}
     * @throws IllegalArgumentException when the sizes differ or the rate is negative or NaN
     */
    @SuppressWarnings("try")
    public static void update(Tensor bias, int[] load, double updateRate) {
        if (bias.rank() != 1 || bias.size(0) != load.length) {
            throw new IllegalArgumentException("bias " + Shape.str(bias.shape()) + " does not match the load of " + load.length + " experts");
        }
        if (!(updateRate >= 0)) throw new IllegalArgumentException("bias update rate must be >= 0, got " + updateRate);
        double mean = 0;
        for (int c : load) mean += c;
        mean /= load.length;
        try (NoGrad scope = NoGrad.enter()) {
            if (!bias.device().isCpu()) {                   // one upload of the steps, added on the device
                double[] steps = new double[load.length];
                for (int e = 0; e < load.length; e++) steps[e] = updateRate * Math.signum(mean - load[e]);
                bias.addInPlace(Tensor.of(steps, steps.length).to(bias.dtype()).to(bias.device()));
                return;
            }
            for (int e = 0; e < load.length; e++) {
                double step = updateRate * Math.signum(mean - load[e]);
                if (step != 0) bias.set(bias.getDouble(e) + step, e);
            }
        }
    }
}
