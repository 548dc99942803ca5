package dev.moe4j.tensor;

/**
 * The autograd node that produced a tensor. The tensor module only stores it; the autograd module
 * implements it (one class per differentiable op) and walks the graph in reverse.
 */
public interface GradFn {
    /** A short name of the op, such as {@code "MatMul"}. */
    String name();
}
