package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * An ensemble of E low-rank expert adapters on one frozen layer (after "Ensembles of Low-Rank
 * Expert Adapters", Li et al. 2025, whose experts are LoRA adapters trained on different clusters of
 * the data and combined with weights at inference): every adapter sees every token and their
 * updates are averaged with fixed weights c_i (default 1/E).
 * <pre>
 *   y = x W^T + b + sum_i c_i s B_i A_i x          c [E], sum 1 by default; A_i [r, in], B_i [out, r]
 * </pre>
 * Two ways to collapse the ensemble into one update:
 * <ul>
 *   <li>{@link #averagedDelta()}: {@code sum_i c_i s B_i A_i} [out, in]. Because each adapter is
 *       linear in x, averaging the outputs is exactly averaging the weight updates: folding this
 *       delta into W gives the ensemble's output (rank up to E r).</li>
 *   <li>{@link #averagedFactors()}: {@code (sum_i c_i A_i, sum_i c_i B_i)}, one rank-r adapter, as a
 *       "model soup" of the factors: cheaper, but only equal to the ensemble when the adapters agree
 *       (in general {@code mean(B) mean(A) != mean(B A)}).</li>
 * </ul>
 * There is no router and no auxiliary loss; the adapters train jointly through the average.
 */
public final class LoraEnsembleLinear extends LoraMixtureLinear {
    private double[] weights;

    /**
     * @param base        the frozen layer
     * @param numAdapters E
     * @param spec        the adapters' rank, alpha, dropout, initialisation
     * @param gen         source of initial values and masks
     * @throws IllegalArgumentException for the cases of {@link LoraMixtureLinear}
     */
    public LoraEnsembleLinear(Linear base, int numAdapters, AdapterSpec spec, Generator gen) {
        super(base, numAdapters, spec, gen);
        this.weights = new double[numAdapters];
        java.util.Arrays.fill(weights, 1.0 / numAdapters);
    }

    /**
     * Sets the ensemble weights c [E] (any finite values; they are not renormalised).
     *
     * @throws IllegalArgumentException for a wrong length or a non-finite weight
     */
    public void setWeights(double... c) {
        if (c == null || c.length != experts.numExperts()) {
            throw new IllegalArgumentException((c == null ? 0 : c.length) + " ensemble weights for E = " + experts.numExperts() + " adapters");
        }
        for (double v : c) if (!Double.isFinite(v)) throw new IllegalArgumentException("ensemble weights must be finite, got " + java.util.Arrays.toString(c));
        this.weights = c.clone();
    }

    /** The ensemble weights c [E] (a copy). */
    public double[] weights() { return weights.clone(); }

    @Override
    protected Tensor mixture(Tensor x, Tensor xExperts) {
        int T = x.size(0), n = experts.numExperts();
        Tensor c = Tensor.of(weights, 1, n).to(x.dtype()).to(x.device());
        return experts.dense(xExperts, F.expand(c, T, n));
    }

    /** {@code sum_i c_i s B_i A_i} [out, in] (no graph): the exact weight-space form of the ensemble. */
    public Tensor averagedDelta() {
        try (NoGrad scope = NoGrad.enter()) {
            Tensor a = experts.a().detach(), b = experts.b().detach();
            Tensor sum = null;
            for (int i = 0; i < weights.length; i++) {
                Tensor d = b.select(0, i).matmul(a.select(0, i)).mul(weights[i] * experts.scaling());
                sum = sum == null ? d : sum.add(d);
            }
            return sum;
        }
    }

    /** The factor average {@code (sum_i c_i A_i [r, in], sum_i c_i B_i [out, r])} with the adapters' scaling (no graph). */
    public dev.moe4j.lora.merge.LowRankUpdate averagedFactors() {
        try (NoGrad scope = NoGrad.enter()) {
            Tensor a = experts.a().detach(), b = experts.b().detach();
            Tensor sa = null, sb = null;
            for (int i = 0; i < weights.length; i++) {
                Tensor ai = a.select(0, i).mul(weights[i]), bi = b.select(0, i).mul(weights[i]);
                sa = sa == null ? ai : sa.add(ai);
                sb = sb == null ? bi : sb.add(bi);
            }
            return new dev.moe4j.lora.merge.LowRankUpdate(sa, sb, experts.scaling());
        }
    }

    @Override
    protected String describe() { return super.describe() + ", adapters=" + experts.numExperts(); }
}
