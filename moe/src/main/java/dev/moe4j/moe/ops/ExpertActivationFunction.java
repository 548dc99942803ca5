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
 * over the common pool for large inputs. On a CUDA device (F32 or BF16) the same formulas are
 * composed of generic tensor ops on the two halves ({@code narrow}, {@link ExpertActivation#apply(Tensor)},
 * {@code mul}, {@code cat}), in the input's dtype.
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
        DeviceOps.requireCompute("expert activation", "h", h);
        if (h.rank() != 2 || (gated && h.size(1) % 2 != 0)) {
            throw new IllegalArgumentException("expert activation: h must be [R, " + (gated ? "2f" : "f") + "], got " + Shape.str(h.shape()));
        }
        int R = h.size(0), width = h.size(1), f = gated ? width / 2 : width;
        ctx.save(h);
        if (DeviceOps.onCuda(h)) return composedForward(activation, gated, h);
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
        if (DeviceOps.onCuda(h)) return new Tensor[] {composedBackward(activation, gated, h, g)};
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

    /** The forward from generic tensor ops on h's device, in h's dtype: {@code act(h[:, :f]) * h[:, f:]} or {@code act(h)}. */
    static Tensor composedForward(ExpertActivation activation, boolean gated, Tensor h) {
        if (!gated) return activation.apply(h);
        int f = h.size(1) / 2;
        return activation.apply(h.narrow(1, 0, f)).mul(h.narrow(1, f, f));
    }

    /** dh from generic tensor ops on h's device: {@code [da * u * act'(g), da * act(g)]} or {@code da * act'(h)}. */
    static Tensor composedBackward(ExpertActivation activation, boolean gated, Tensor h, Tensor g) {
        Tensor da = g.to(h.dtype());
        if (!gated) return da.mul(activation.derivative(h));
        int f = h.size(1) / 2;
        Tensor gate = h.narrow(1, 0, f), up = h.narrow(1, f, f);
        Tensor dGate = da.mul(up).mul(activation.derivative(gate));
        Tensor dUp = da.mul(activation.apply(gate));
        return Tensor.cat(java.util.List.of(dGate, dUp), 1);
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
