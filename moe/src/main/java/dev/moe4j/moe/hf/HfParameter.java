package dev.moe4j.moe.hf;

import dev.moe4j.tensor.Tensor;

/**
 * Where one Hugging Face parameter or buffer lives in an {@link dev.moe4j.moe.MoeLayer}: a whole
 * tensor of the layer, or one expert's slice of a fused tensor (for per-expert names such as
 * Switch's {@code experts.expert_3.wi.weight} or the legacy {@code experts.3.w1.weight}).
 *
 * @param name     the Hugging Face name, relative to the MoE block
 * @param target   the layer's tensor (parameter or buffer)
 * @param expert   the expert index along dim 0 of {@code target}, or -1 for the whole tensor
 * @param rowStart first row of the slice inside the expert (along the expert's dim 0), for a half of
 *                 {@code gate_up_proj}
 * @param rows     rows of the slice, or -1 for all
 * @param buffer   whether it is a buffer (no gradient)
 */
public record HfParameter(String name, Tensor target, int expert, int rowStart, int rows, boolean buffer) {

    /** The slice of {@code full} (the target or a tensor of its shape, e.g. its gradient) this name covers. */
    public Tensor view(Tensor full) {
        Tensor v = expert >= 0 ? full.select(0, expert) : full;
        return rows >= 0 ? v.narrow(0, rowStart, rows) : v;
    }

    /** The parameter's current value (a view into the layer). */
    public Tensor value() { return view(target); }

    /** The gradient of this parameter after a backward (a view of the layer tensor's gradient), or null. */
    public Tensor gradient() {
        Tensor g = target.grad();
        return g == null ? null : view(g);
    }

    /** The shape the name has in a Hugging Face file. */
    public int[] shape() { return value().shape(); }
}
