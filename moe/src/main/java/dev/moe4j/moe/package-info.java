/**
 * Mixture-of-Experts layers on the CPU, trainable end to end.
 *
 * <p>One forward pass of an {@link dev.moe4j.moe.MoeLayer} on T tokens of width d:
 * <pre>
 *   router (dev.moe4j.moe.routing)     logits [T, E] -&gt; expert ids and gate weights [T, k]
 *   routing plan                       tokens sorted by expert: counts, offsets, row &lt;-&gt; (token, slot), drops
 *   permute                            x [T, d] -&gt; xPerm [R, d]
 *   experts (dev.moe4j.moe.experts)    grouped GEMMs over the plan's offsets, fused gate_up / down weights
 *   combine                            yPerm [R, d] -&gt; y [T, d], weighted sum in slot order
 *   + shared experts                   always-on dense experts (DeepSeekMoE, Qwen2-MoE)
 * </pre>
 * The {@link dev.moe4j.moe.Routing} of each pass is an explicit, printable object, and
 * {@link dev.moe4j.moe.RoutingReport} summarises a pass (load per expert, drops, balance losses). The
 * differentiable pieces live in {@link dev.moe4j.moe.ops}, the balance losses and the
 * auxiliary-loss-free bias update in {@link dev.moe4j.moe.balance}, the Hugging Face loaders in
 * {@link dev.moe4j.moe.hf}. Build a layer with {@link dev.moe4j.moe.MoeOptions}:
 * <pre>{@code
 * MoeLayer layer = new MoeLayer(new MoeOptions().router(RouterKind.SOFTMAX_TOPK).hiddenSize(64)
 *         .intermediateSize(128).experts(8).topK(2).capacityFactor(1.25).balancing(Balancing.auxLoss(0.01)).seed(1));
 * Tensor y = layer.forward(x);                          // x [B, S, 64]
 * Tensor loss = F.add(task(y), layer.auxLoss());
 * Autograd.backward(loss); optimizer.step(); layer.updateSelectionBias();
 * System.out.println(layer.report().summary());          // load per expert, drops, losses
 * }</pre>
 */
package dev.moe4j.moe;
