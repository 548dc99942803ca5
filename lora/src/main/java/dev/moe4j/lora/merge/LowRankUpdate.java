package dev.moe4j.lora.merge;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.lora.LoraAdapter;
import dev.moe4j.lora.LoraExpertBank;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * One low-rank weight update {@code delta W = s B A}: A [r, in], B [out, r], scaling s. The common
 * currency of the merging functions ({@link LoraMerge}): a LoRA adapter, one expert of a
 * {@link LoraExpertBank}, or a merge result.
 *
 * @param a       A [r, in]
 * @param b       B [out, r]
 * @param scaling s
 */
public record LowRankUpdate(Tensor a, Tensor b, double scaling) {

    /**
     * @throws IllegalArgumentException for null factors, shapes that do not chain, different dtypes
     *         or devices, or a non-finite scaling
     */
    public LowRankUpdate {
        if (a == null || b == null) throw new IllegalArgumentException("low-rank update needs A and B");
        if (a.rank() != 2 || b.rank() != 2 || b.size(1) != a.size(0)) {
            throw new IllegalArgumentException("low-rank update needs A [r, in] and B [out, r], got A " + Shape.str(a.shape()) + ", B " + Shape.str(b.shape()));
        }
        if (a.dtype() != b.dtype()) throw new IllegalArgumentException("A is " + a.dtype() + ", B is " + b.dtype());
        if (!a.device().equals(b.device())) throw new IllegalArgumentException("A is on " + a.device() + ", B on " + b.device());
        if (!Double.isFinite(scaling)) throw new IllegalArgumentException("scaling must be finite, got " + scaling);
    }

    /** The adapter's factors and scaling (the parameters themselves, detached). */
    public static LowRankUpdate of(LoraAdapter adapter) {
        if (adapter.isDora()) throw new IllegalArgumentException("DoRA adapter '" + adapter.name() + "' is not a plain low-rank update");
        return new LowRankUpdate(adapter.a().detach(), adapter.b().detach(), adapter.scaling());
    }

    /** Expert i of a bank (views of its parameters, detached). */
    public static LowRankUpdate of(LoraExpertBank bank, int i) {
        if (i < 0 || i >= bank.numExperts()) throw new IndexOutOfBoundsException("expert " + i + " of a bank of N = " + bank.numExperts());
        return new LowRankUpdate(bank.a().detach().select(0, i), bank.b().detach().select(0, i), bank.scaling());
    }

    /** The device of A and B. */
    public Device device() { return a.device(); }

    /** r. */
    public int rank() { return a.size(0); }

    /** in. */
    public int inFeatures() { return a.size(1); }

    /** out. */
    public int outFeatures() { return b.size(0); }

    /** {@code s B A} [out, in] (no graph). */
    public Tensor delta() {
        try (NoGrad scope = NoGrad.enter()) {
            return b.detach().matmul(a.detach()).mul(scaling);
        }
    }
}
