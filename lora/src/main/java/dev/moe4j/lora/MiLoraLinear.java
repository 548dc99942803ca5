package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * One expert of a {@link MiLoraLayer}: a LoRA module on one frozen linear layer, scaled by the
 * gate its layer's prompt router gave the sequence.
 * <pre>
 *   x [B, S, in] (or [S, in], B = 1)
 *   y[b, s] = x[b, s] W^T + b + g[b, m] * s_lora * B A dropout(x[b, s])        A [r, in], B [out, r]
 * </pre>
 * It wraps the Linear as {@link LoraLinear} does (freezes it, becomes its forward override). The
 * expert that is its layer's router input routes the batch before computing.
 */
public final class MiLoraLinear extends Module {
    private final MiLoraLayer layer;
    private final int index;
    private final Linear base;
    private final LoraExpertBank lora;
    private final AdapterSpec spec;
    private final Generator generator;
    private final int in;

    MiLoraLinear(MiLoraLayer layer, int index, Linear base, AdapterSpec spec, Generator gen) {
        this.layer = layer;
        this.index = index;
        this.base = base;
        this.spec = spec;
        this.generator = gen;
        this.in = base.weight().size(1);
        this.lora = registerModule("lora", new LoraExpertBank(1, in, base.weight().size(0), spec, base.weight().dtype(), gen));
        base.weight().setRequiresGrad(false);
        if (base.bias() != null) base.bias().setRequiresGrad(false);
        base.setForwardOverride(this::forward);
    }

    /** m, the index of this expert in its layer. */
    public int index() { return index; }

    /** The expert's name in its layer. */
    public String name() {
        Module dict = layer.namedChildren().get("experts");
        if (dict != null) for (var e : dict.namedChildren().entrySet()) if (e.getValue() == this) return e.getKey();
        return Integer.toString(index);
    }

    /** The frozen layer. */
    public Linear baseLayer() { return base; }

    /** The LoRA factors (a bank of one: {@code lora_A} [1, r, in], {@code lora_B} [1, out, r]). */
    public LoraExpertBank lora() { return lora; }

    /** The LoRA settings. */
    public AdapterSpec spec() { return spec; }

    /** {@code x W^T + b + g * s B A x}: x [B, S, in] or [S, in]. */
    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 2 || x.size(-1) != in) {
            throw new IllegalArgumentException("MiLoRA expert: input must be [B, S, in = " + in + "] or [S, in], got " + Shape.str(x.shape()));
        }
        if (x.dtype() != base.weight().dtype()) {
            throw new IllegalArgumentException("MiLoRA expert: input dtype " + x.dtype() + " differs from the weight dtype " + base.weight().dtype());
        }
        DeviceChecks.require("MiLoRA expert", x, base.weight());
        int s = x.size(-2), tokens = x.numel() / in;
        int b = s == 0 ? (x.rank() == 2 ? 1 : x.size(0)) : tokens / s;
        if (index == layer.routerInput()) layer.route(F.reshape(x, b, s, in));
        Tensor g = F.narrow(layer.gates(b, name()), 1, index, 1);                            // [B, 1]
        Tensor gTok = F.reshape(F.expand(F.unsqueeze(g, 1), b, s, 1), tokens, 1);           // [B S, 1]
        Tensor x2 = F.reshape(x, tokens, in);
        Tensor xe = F.dropout(x2, spec.dropout(), base.isTraining(), generator);
        Tensor y = base.forwardBase(x);
        return F.add(y, F.reshape(lora.dense(xe, gTok), y.shape()));
    }

    /** Removes the forward override from the base layer. */
    public void unwrap() {
        if (base.forwardOverride() != null) base.setForwardOverride(null);
    }

    @Override
    protected String describe() { return "expert " + index + ", r=" + spec.r(); }
}
