package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Activation;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;

/**
 * MiLoRA's prompt-aware router: one routing decision per sequence, from a pooled representation of
 * its prompt (Zhang et al. 2024, "MiLoRA: Efficient Mixture of Low-Rank Adaptation for Large
 * Language Models Fine-tuning").
 * <pre>
 *   h      = pool(H)                    H [B, S, d] the prompt's hidden states -&gt; [B, d]
 *            LAST_TOKEN: H[:, S-1, :]     MEAN: mean over the S tokens
 *   logits = act(h) W_r^T               {@code router.weight} [M, d], no bias   -&gt; [B, M]
 *   p      = softmax(logits)
 *   g[b]   = p[b, i] / sum over the top-k i of p[b, .]  for the k most likely i, else 0     [B, M]
 * </pre>
 * M is the number of LoRA experts the router chooses among (in MiLoRA the LoRA modules of one
 * transformer layer). The gates are differentiable in H and W_r through the kept probabilities.
 */
public final class PromptRouter extends Module {

    /** How the prompt's token states become one vector. */
    public enum Pooling {
        /** The state of the prompt's last token (it has attended to the whole prompt). */
        LAST_TOKEN,
        /** The mean of the prompt's token states. */
        MEAN
    }

    private final Linear router;
    private final Activation activation;
    private final Pooling pooling;
    private final int topK, numExperts, hiddenSize;

    /**
     * @param hiddenSize d
     * @param numExperts M
     * @param topK       k in [1, M]
     * @param pooling    the pooler
     * @param activation the activation after pooling, or null for none
     * @param dtype      parameter dtype
     * @param gen        source of the router's initial weights (nn.Linear's default)
     * @throws IllegalArgumentException for M &lt; 1, k outside [1, M] or a null pooling
     */
    public PromptRouter(int hiddenSize, int numExperts, int topK, Pooling pooling, Activation activation, DType dtype, Generator gen) {
        if (numExperts < 1) throw new IllegalArgumentException("a prompt router needs M >= 1 experts, got " + numExperts);
        if (topK < 1 || topK > numExperts) throw new IllegalArgumentException("top-k must lie in [1, M = " + numExperts + "], got " + topK);
        if (pooling == null) throw new IllegalArgumentException("pooling is null");
        this.hiddenSize = hiddenSize;
        this.numExperts = numExperts;
        this.topK = topK;
        this.pooling = pooling;
        this.activation = activation;
        this.router = registerModule("router", new Linear(hiddenSize, numExperts, false, dtype, gen));
    }

    /** The router layer [M, d]. */
    public Linear router() { return router; }

    /** M. */
    public int numExperts() { return numExperts; }

    /** k. */
    public int topK() { return topK; }

    /** The pooler. */
    public Pooling pooling() { return pooling; }

    /** pool(H): [B, S, d] &rarr; [B, d]. */
    public Tensor pool(Tensor prompt) {
        if (prompt.rank() != 3 || prompt.size(2) != hiddenSize || prompt.size(1) < 1) {
            throw new IllegalArgumentException("prompt router: prompt states must be [B, S >= 1, d = " + hiddenSize + "], got " + Shape.str(prompt.shape()));
        }
        return pooling == Pooling.LAST_TOKEN ? F.select(prompt, 1, prompt.size(1) - 1) : F.mean(prompt, 1, false);
    }

    /** The gates g [B, M] for prompts H [B, S, d] (top-k renormalised, zeros elsewhere). */
    public Tensor gates(Tensor prompt) {
        Tensor h = pool(prompt);
        if (activation != null) h = activation.forward(h);
        Tensor p = F.softmax(router.forward(h), -1);
        int b = p.size(0);
        TopK top = F.topk(p, topK, 1, true);
        Tensor w = F.div(top.values(), F.sum(top.values(), 1, true));
        return F.scatterAdd(Tensor.zeros(p.dtype(), p.device(), b, numExperts), 1, top.indices(), w);
    }

    /** {@link #gates} for prompts [B, S, d]. */
    @Override
    public Tensor forward(Tensor prompt) { return gates(prompt); }

    @Override
    protected String describe() { return "d=" + hiddenSize + ", M=" + numExperts + ", k=" + topK + ", " + pooling + (activation != null ? ", " + activation : ""); }
}
