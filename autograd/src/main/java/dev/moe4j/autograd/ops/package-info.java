/**
 * The differentiable operations, one {@link dev.moe4j.autograd.Function} per class, each with its
 * derivative in the class comment and its backward beside its forward. Users normally call them
 * through {@link dev.moe4j.autograd.F}.
 */
package dev.moe4j.autograd.ops;
