/**
 * Reverse-mode automatic differentiation on a dynamic graph (a tape), as PyTorch users know it.
 *
 * <ul>
 *   <li>{@link dev.moe4j.autograd.F}: the differentiable operations ({@code F.matmul}, {@code F.crossEntropy}, ...).</li>
 *   <li>{@link dev.moe4j.autograd.Autograd}: {@code backward(loss)}, {@code backward(root, grad, retainGraph)},
 *       {@code grad(output, gradOutput, retainGraph, inputs...)}.</li>
 *   <li>{@link dev.moe4j.autograd.NoGrad}: a try-with-resources scope that records nothing.</li>
 *   <li>{@link dev.moe4j.autograd.Function} and {@link dev.moe4j.autograd.Context}: how an op is written,
 *       forward and backward side by side; the ops live in {@code dev.moe4j.autograd.ops}, one class each.</li>
 *   <li>{@link dev.moe4j.autograd.GradCheck}: float64 central differences against the analytic gradient.</li>
 * </ul>
 *
 * Layers are in {@code dev.moe4j.autograd.nn}, optimizers and schedules in {@code dev.moe4j.autograd.optim}.
 */
package dev.moe4j.autograd;
