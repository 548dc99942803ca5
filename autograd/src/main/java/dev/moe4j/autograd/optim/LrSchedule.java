package dev.moe4j.autograd.optim;

/**
 * A learning rate as a function of the step number (from 0), applied with
 * {@code optimizer.setLr(schedule.at(step))} before each step.
 */
@FunctionalInterface
public interface LrSchedule {
    /** The learning rate at {@code step} (0 for the first step). */
    double at(int step);

    /** The same rate at every step. */
    static LrSchedule constant(double lr) { return step -> lr; }

    /**
     * Linear warm-up from 0 to {@code peak} over {@code warmupSteps} steps, then constant:
     * {@code lr(s) = peak * min(1, (s + 1) / warmupSteps)}. (The first step already gets a nonzero rate.)
     */
    static LrSchedule linearWarmup(double peak, int warmupSteps) {
        if (warmupSteps < 0) throw new IllegalArgumentException("warm-up steps must be >= 0, got " + warmupSteps);
        return step -> warmupSteps == 0 ? peak : peak * Math.min(1.0, (step + 1) / (double) warmupSteps);
    }

    /**
     * Cosine decay (Loshchilov and Hutter 2017, without restarts) from {@code peak} at step 0 to
     * {@code minLr} at {@code totalSteps}, constant after:
     * {@code lr(s) = minLr + (peak - minLr) (1 + cos(pi s / totalSteps)) / 2}.
     */
    static LrSchedule cosineDecay(double peak, int totalSteps, double minLr) {
        if (totalSteps <= 0) throw new IllegalArgumentException("total steps must be > 0, got " + totalSteps);
        return step -> {
            double progress = Math.min(1.0, Math.max(0, step) / (double) totalSteps);
            return minLr + (peak - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
        };
    }

    /**
     * Linear warm-up over {@code warmupSteps} steps to {@code peak}, then cosine decay to {@code minLr}
     * at {@code totalSteps} (the usual schedule for transformer training).
     */
    static LrSchedule warmupCosine(double peak, int warmupSteps, int totalSteps, double minLr) {
        if (warmupSteps < 0 || totalSteps <= warmupSteps) {
            throw new IllegalArgumentException("need 0 <= warmupSteps < totalSteps, got " + warmupSteps + " and " + totalSteps);
        }
        LrSchedule warm = linearWarmup(peak, warmupSteps);
        LrSchedule decay = cosineDecay(peak, totalSteps - warmupSteps, minLr);
        return step -> step < warmupSteps ? warm.at(step) : decay.at(step - warmupSteps);
    }
}
