package dev.moe4j.autograd.optim;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;

import java.util.List;

/** Gradient clipping, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales all gradients together so that their global L2 norm is at most {@code maxNorm}:
     * {@code total = sqrt(sum over params of ||grad||^2)}; when total &gt; maxNorm every gradient is
     * multiplied by {@code maxNorm / (total + 1e-6)} in place. Parameters without a gradient are skipped.
     *
     * @return the total norm before clipping
     * @throws IllegalArgumentException when maxNorm is not positive
     */
    public static double clipGradNorm(List<Tensor> params, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("maxNorm must be > 0, got " + maxNorm);
        try (NoGrad scope = NoGrad.enter()) {
            double sq = 0;
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g == null) continue;
                Tensor g64 = g.to(DType.F64);
                sq += g64.mul(g64).sum().item();
            }
            double total = Math.sqrt(sq);
            if (total > maxNorm) {
                double scale = maxNorm / (total + 1e-6);
                for (Tensor p : params) {
                    Tensor g = p.grad();
                    if (g != null) g.mulInPlace(scale);
                }
            }
            return total;
        }
    }
}
