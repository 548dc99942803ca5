package dev.moe4j.autograd.ops;

/** How a loss combines its per-element values (PyTorch's {@code reduction} argument). */
public enum Reduction {
    /** Keep one value per element (or per sample). */
    NONE,
    /** The mean over the counted elements. */
    MEAN,
    /** The sum. */
    SUM
}
