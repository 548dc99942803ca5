package dev.moe4j.autograd;

/**
 * Whether differentiable operations record the graph on the current thread.
 *
 * <p>Recording is on by default. {@link NoGrad} turns it off for a scope; the engine turns it off
 * while it runs forward and backward functions, so that their internal computations are never
 * recorded.
 */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    private GradMode() {}

    /** True when operations on the current thread record the graph. */
    public static boolean isEnabled() { return ENABLED.get()[0]; }

    /** Sets recording on or off for the current thread and returns the previous state. */
    static boolean set(boolean enabled) {
        boolean[] cell = ENABLED.get();
        boolean previous = cell[0];
        cell[0] = enabled;
        return previous;
    }
}
