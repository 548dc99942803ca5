package dev.moe4j.autograd;

/**
 * A scope in which differentiable operations do not record the graph, as {@code torch.no_grad()}:
 *
 * <pre>{@code
 * try (NoGrad scope = NoGrad.enter()) {
 *     Tensor y = F.matmul(x, w);   // y.requiresGrad() is false, nothing is kept for backward
 * }
 * }</pre>
 *
 * Scopes nest; closing one restores the state that was in force when it was entered. A scope
 * belongs to the thread that entered it.
 */
public final class NoGrad implements AutoCloseable {
    private final boolean previous;
    private final Thread owner;
    private boolean closed;

    private NoGrad() {
        this.previous = GradMode.set(false);
        this.owner = Thread.currentThread();
    }

    /** Turns recording off until {@link #close()}. */
    public static NoGrad enter() { return new NoGrad(); }

    /**
     * Restores the previous recording state. Closing twice has no further effect.
     *
     * @throws IllegalStateException when called from another thread than the one that entered
     */
    @Override
    public void close() {
        if (closed) return;
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a NoGrad scope must be closed by the thread that entered it (" + owner.getName() + ")");
        }
        closed = true;
        GradMode.set(previous);
    }
}
