package dev.moe4j.lora;

/**
 * The settings of one LoRA adapter on one layer: rank, alpha, dropout and the two variants.
 *
 * <p>The adapter adds {@code s * dropout(x) A^T B^T} to the frozen layer's output, with A [r, in],
 * B [out, r] and the scaling {@code s = alpha / r} (LoRA, Hu et al. 2021) or
 * {@code s = alpha / sqrt(r)} (rsLoRA, Kalajdzievski 2023, which keeps the update's scale stable as
 * r grows). With {@code useDora} the layer is DoRA (Liu et al. 2024): a trainable magnitude per
 * output row times the row-normalised direction {@code W + s B A}.
 *
 * @param r         rank, &gt;= 1 (and at most min(in, out) of the layer it is put on)
 * @param alpha     lora_alpha, finite
 * @param dropout   dropout probability on the adapter's input, in [0, 1)
 * @param useRslora scale by alpha / sqrt(r) instead of alpha / r
 * @param useDora   DoRA: magnitude and direction
 * @param init      how A and B start
 */
public record AdapterSpec(int r, double alpha, double dropout, boolean useRslora, boolean useDora, LoraInit init) {

    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException for r &lt; 1, a non-finite alpha, a dropout outside [0, 1), a null init
     */
    public AdapterSpec {
        if (r < 1) throw new IllegalArgumentException("LoRA rank r must be >= 1, got " + r);
        if (!Double.isFinite(alpha)) throw new IllegalArgumentException("lora_alpha must be finite, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("lora_dropout must lie in [0, 1), got " + dropout);
        if (init == null) throw new IllegalArgumentException("init is null");
    }

    /** Plain LoRA with rank r and alpha, no dropout, PEFT's default initialisation. */
    public static AdapterSpec of(int r, double alpha) {
        return new AdapterSpec(r, alpha, 0.0, false, false, LoraInit.KAIMING);
    }

    /** The scaling s: alpha / sqrt(r) with rsLoRA, else alpha / r. */
    public double scaling() {
        return useRslora ? alpha / Math.sqrt(r) : alpha / r;
    }

    /** This spec with another rank. */
    public AdapterSpec withR(int newR) { return new AdapterSpec(newR, alpha, dropout, useRslora, useDora, init); }

    /** This spec with another alpha. */
    public AdapterSpec withAlpha(double newAlpha) { return new AdapterSpec(r, newAlpha, dropout, useRslora, useDora, init); }

    /** This spec with another dropout probability. */
    public AdapterSpec withDropout(double p) { return new AdapterSpec(r, alpha, p, useRslora, useDora, init); }

    /** This spec with rsLoRA scaling on or off. */
    public AdapterSpec withRslora(boolean on) { return new AdapterSpec(r, alpha, dropout, on, useDora, init); }

    /** This spec with DoRA on or off. */
    public AdapterSpec withDora(boolean on) { return new AdapterSpec(r, alpha, dropout, useRslora, on, init); }

    /** This spec with another initialisation. */
    public AdapterSpec withInit(LoraInit newInit) { return new AdapterSpec(r, alpha, dropout, useRslora, useDora, newInit); }
}
