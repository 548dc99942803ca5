package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.F;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * The SwiGLU feed-forward block of Llama-style models and MoE experts (Shazeer 2020):
 * <pre>
 *   y = down_proj( silu(gate_proj(x)) * up_proj(x) )
 * </pre>
 * x [..., d] &rarr; y [..., d]; sub-layers {@code gate_proj}, {@code up_proj} [f, d] and
 * {@code down_proj} [d, f], without biases, named as in Hugging Face transformers.
 */
public final class SwiGLUMlp extends Module {
    private final Linear gate, up, down;

    /**
     * @param dim    d, the model size
     * @param hidden f, the intermediate size
     * @param dtype  parameter dtype
     * @param gen    source of the initial values
     */
    public SwiGLUMlp(int dim, int hidden, DType dtype, Generator gen) {
        this.gate = registerModule("gate_proj", new Linear(dim, hidden, false, dtype, gen));
        this.up = registerModule("up_proj", new Linear(dim, hidden, false, dtype, gen));
        this.down = registerModule("down_proj", new Linear(hidden, dim, false, dtype, gen));
    }

    @Override
    public Tensor forward(Tensor x) { return F.swiglu(x, gate.weight(), up.weight(), down.weight()); }
}
