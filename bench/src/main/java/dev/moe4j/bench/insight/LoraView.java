package dev.moe4j.bench.insight;

import dev.moe4j.lora.ExpertLora;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.tensor.Tensor;

/**
 * LoRA on the experts ({@link ExpertLora}), beside the frozen experts' grouped GEMMs: per expert e
 * with M_e rows, each adapted projection W [E, N, K] adds a shrink and an expand grouped GEMM over
 * the same offsets,
 * <pre>
 *   shrink  z = x A_e^T     [M_e, K] x [K, r]     2 M_e K r FLOPs     A [E, r, K]
 *   expand  u = z B_e^T     [M_e, r] x [r, N]     2 M_e r N FLOPs     B [E, N, r]
 *   out     = x W_e^T + s u                        s = alpha / r (alpha / sqrt(r) with rsLoRA)
 * </pre>
 * for the up (gate-up) projection (K = d, N = U) and the down projection (K = f, N = d). The
 * adapter's share is its FLOPs over the frozen experts' FLOPs; about 2 r (K + N) / (2 K N) per
 * projection, so small while r is small next to d and f. In the backward, A and B get gradients
 * and the frozen expert weights none ({@link #gradients} reads them after a backward).
 */
public final class LoraView {
    private final ExpertLora lora;
    private final int[] counts;

    /**
     * @param lora   the adapters (attached to the layer whose pass this describes)
     * @param counts [E] rows per expert (the routing plan's counts)
     * @throws IllegalArgumentException when counts does not have one entry per expert
     */
    public LoraView(ExpertLora lora, int[] counts) {
        if (lora == null || counts == null) throw new IllegalArgumentException("a LoRA view needs the adapters and the plan's counts");
        if (counts.length != lora.experts().numExperts()) {
            throw new IllegalArgumentException("counts has " + counts.length + " entries, the experts number E = " + lora.experts().numExperts());
        }
        this.lora = lora;
        this.counts = counts.clone();
    }

    private int upWidth() { return lora.experts().upProjection().size(1); }

    /** Adapter FLOPs (shrink + expand of each adapted projection) of expert e. */
    public long adapterFlops(int e) {
        GroupedExperts x = lora.experts();
        long m = counts[e], r = lora.spec().r(), d = x.hiddenSize(), f = x.intermediateSize(), u = upWidth();
        long s = 0;
        if (lora.up() != null) s += 2 * m * d * r + 2 * m * r * u;
        if (lora.down() != null) s += 2 * m * f * r + 2 * m * r * d;
        return s;
    }

    /** Frozen expert FLOPs (up and down GEMMs) of expert e. */
    public long frozenFlops(int e) {
        GroupedExperts x = lora.experts();
        long m = counts[e], d = x.hiddenSize(), f = x.intermediateSize(), u = upWidth();
        return 2 * m * d * u + 2 * m * f * d;
    }

    /** The per-expert problem list: frozen GEMMs beside the shrink and expand GEMMs. */
    public TextTable table() {
        GroupedExperts x = lora.experts();
        int r = lora.spec().r(), d = x.hiddenSize(), f = x.intermediateSize(), u = upWidth();
        String upName = x.gated() ? "gate_up_proj" : "up_proj";
        TextTable t = new TextTable("expert", "M (rows)", "frozen FLOPs", "up shrink", "up expand", "down shrink", "down expand",
                "LoRA FLOPs", "share");
        t.title("3b. LoRA on the experts: r = " + r + ", alpha = " + Fmt.num(lora.spec().alpha()) + ", s = alpha/"
                + (lora.spec().useRslora() ? "sqrt(r)" : "r") + " = " + Fmt.num(lora.spec().scaling())
                + "\n   " + shapes(upName, lora.up()) + ";  " + shapes("down_proj", lora.down())
                + "\n   per projection: out = x W_e^T + s (x A_e^T) B_e^T, shrink then expand, grouped over the same offsets; FLOPs = 2 M N K");
        long frozen = 0, adapter = 0;
        for (int e = 0; e < counts.length; e++) {
            int m = counts[e];
            long fr = frozenFlops(e), ad = adapterFlops(e);
            frozen += fr;
            adapter += ad;
            boolean empty = m == 0;
            t.row(e, m, Fmt.count(fr),
                    empty ? "(empty)" : Fmt.shape(m, d) + "x" + Fmt.shape(d, r),
                    empty ? "(empty)" : Fmt.shape(m, r) + "x" + Fmt.shape(r, u),
                    empty ? "(empty)" : Fmt.shape(m, f) + "x" + Fmt.shape(f, r),
                    empty ? "(empty)" : Fmt.shape(m, r) + "x" + Fmt.shape(r, d),
                    Fmt.count(ad), fr == 0 ? "-" : "+" + Fmt.fixed(100.0 * ad / fr, 1) + "%");
        }
        t.note("forward: frozen experts " + Fmt.flops(frozen) + ", adapters " + Fmt.flops(adapter)
                + (frozen == 0 ? "" : " (+" + Fmt.fixed(100.0 * adapter / frozen, 1) + "%)") + "; B starts at 0, so the adapted layer starts equal to the frozen one");
        return t;
    }

    /** Whether every frozen expert weight is without a gradient and every A and B has one (after a backward). */
    public boolean onlyAdaptersHaveGradients() {
        GroupedExperts x = lora.experts();
        return x.upProjection().grad() == null && x.downProjection().grad() == null && hasGradients(lora.up()) && hasGradients(lora.down());
    }

    /** Which parameters received a gradient in the backward: the adapters' A and B, not the frozen expert weights. */
    public TextTable gradients() {
        GroupedExperts x = lora.experts();
        String upName = x.gated() ? "gate_up_proj" : "up_proj";
        TextTable t = new TextTable("parameter", "shape", "trainable", "grad");
        t.title("6b. LoRA backward: which gradients flow. Per expert e and adapted projection, z = x A_e^T, dU = s dOut:"
                + "\n   dB_e = dU_e^T z_e, dA_e = (dU_e B_e)^T x_e over the expert's rows; the frozen W_e get none (dX still flows through W_e)");
        row(t, "experts." + upName + " (frozen)", x.upProjection());
        row(t, "experts.down_proj (frozen)", x.downProjection());
        pair(t, upName, lora.up());
        pair(t, "down_proj", lora.down());
        t.note(onlyAdaptersHaveGradients() ? "check: the frozen expert weights' grad is null, every A and B has a gradient"
                : "check FAILED: a frozen expert weight has a gradient, or an adapter has none");
        t.note("with B = 0 (the usual start) dA = 0 as well: A starts to move once B has left zero");
        return t;
    }

    private static String shapes(String name, ExpertLora.Pair p) {
        return p == null ? name + " not adapted" : name + ".lora_A " + Fmt.shape(p.a().shape()) + ", lora_B " + Fmt.shape(p.b().shape());
    }

    private static boolean hasGradients(ExpertLora.Pair p) {
        return p == null || (p.a().grad() != null && p.b().grad() != null);
    }

    private static void pair(TextTable t, String name, ExpertLora.Pair p) {
        if (p == null) return;
        row(t, name + ".lora_A", p.a());
        row(t, name + ".lora_B", p.b());
    }

    private static void row(TextTable t, String name, Tensor p) {
        Tensor g = p.grad();
        t.row(name, Fmt.shape(p.shape()), p.requiresGrad() ? "yes" : "no", g == null ? "null" : "|" + Fmt.num(Fmt.norm(g.toDoubleArray(), 0, g.numel())) + "|");
    }

    @Override
    public String toString() { return table().toString(); }
}
