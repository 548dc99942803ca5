package dev.moe4j.moe.ops;

import dev.moe4j.autograd.Context;
import dev.moe4j.autograd.Function;
import dev.moe4j.kernels.cpu.Parallel;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The hidden nonlinearity of an expert FFN as a differentiable function, on the rows of a fused
 * projection.
 *
 * <ul>
 *   <li>gated (GLU, e.g. SwiGLU): h [R, 2f] &rarr; a [R, f], {@code a = act(h[:, :f]) * h[:, f:]}: the
 *       gate half first, as in Hugging Face {@code gate_up_proj};</li>
 *   <li>plain: h [R, f] &rarr; a [R, f], {@code a = act(h)}.</li>
 * </ul>
 * Derivative: gated {@code dg = da * u * act'(g)}, {@code du = da * act(g)}; plain
 * {@code dh = da * act'(h)}. Element-wise in double, stored as the input dtype; rows are split
 * over the common pool for large inputs.
 */
public final class ExpertActivationFunction extends Function {
    private final ExpertActivation activation;
    private final boolean gated;

    /**
     * @param activation the nonlinearity
     * @param gated      whether the input holds a gate half and an up half
     */
    public ExpertActivationFunction(ExpertActivation activation, boolean gated) {
        if (activation == null) throw new IllegalArgumentException("activation is null");
        this.activation = activation;
        this.gated = gated;
    }

    @Override
    protected Tensor forward(Context ctx, Tensor... in) {
        Tensor h = in[0];
        TensorArrays.requireCompute("expert activation", "h", h);
        if (h.rank() != 2 || (gated && h.size(1) % 2 != 0)) {
            throw new IllegalArgumentException("expert activation: h must be [R, " + (gated ? "2f" : "f") + "], got " + Shape.str(h.shape()));
        }
        int R = h.size(0), width = h.size(1), f = gated ? width / 2 : width;
        ctx.save(h);
        if (h.dtype() == DType.F32) {
            float[] x = TensorArrays.floats(h), a = new float[R * f];
            rows(R, f, r -> {
                for (int c = 0; c < f; c++) {
                    double v = activation.apply(x[r * width + c]);
                    a[r * f + c] = (float) (gated ? v * x[r * width + f + c] : v);
                }
            });
            return TensorArrays.wrap(a, R, f);
        }
        double[] x = TensorArrays.doubles(h), a = new double[R * f];
        rows(R, f, r -> {
            for (int c = 0; c < f; c++) {
                double v = activation.apply(x[r * width + c]);
                a[r * f + c] = gated ? v * x[r * width + f + c] : v;
            }
        });
        return TensorArrays.wrap(a, R, f);
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor g) {
        if (!ctx.needsInputGrad(0)) return new Tensor[] {null};
        Tensor h = ctx.saved(0);
        int R = h.size(0), width = h.size(1), f = gated ? width / 2 : width;
        if (h.dtype() == DType.F32) {
            float[] x = TensorArrays.floats(h), da = TensorArrays.floats(g.to(DType.F32)), dh = new float[R * width];
            rows(R, f, r -> {
                for (int c = 0; c < f; c++) {
                    double gate = x[r * width + c], d = da[r * f + c];
                    if (gated) {
                        double up = x[r * width + f + c];
                        dh[r * width + c] = (float) (d * up * activation.derivative(gate));
                        dh[r * width + f + c] = (float) (d * activation.apply(gate));
                    } else {
                        dh[r * width + c] = (float) (d * activation.derivative(gate));
                    }
                }
            });
            return new Tensor[] {TensorArrays.wrap(dh, R, width)};
        }
        double[] x = TensorArrays.doubles(h), da = TensorArrays.doubles(g.to(DType.F64)), dh = new double[R * width];
        rows(R, f, r -> {
            for (int c = 0; c < f; c++) {
                double gate = x[r * width + c], d = da[r * f + c];
                if (gated) {
                    double up = x[r * width + f + c];
                    dh[r * width + c] = d * up * activation.derivative(gate);
                    dh[r * width + f + c] = d * activation.apply(gate);
                } else {
                    dh[r * width + c] = d * activation.derivative(gate);
                }
            }
        });
        return new Tensor[] {TensorArrays.wrap(dh, R, width)};
    }

    /** Runs {@code body} for each row, split into contiguous chunks on the kernels' thread pool when there is enough work. */
    private static void rows(int rows, int width, java.util.function.IntConsumer body) {
        int threads = Parallel.threads();
        if ((long) rows * width < 1 << 15 || threads < 2) {
            for (int r = 0; r < rows; r++) body.accept(r);
            return;
        }
        int chunks = Math.min(rows, 4 * threads);
        Parallel.forEach(chunks, c -> {
            int end = (int) ((long) rows * (c + 1) / chunks);
            for (int r = (int) ((long) rows * c / chunks); r < end; r++) body.accept(r);
        });
    }
}
