package dev.moe4j.moe.ops;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/** Initial values for MoE parameters, drawn from a seeded {@link Generator}. */
public final class ParameterInit {
    private ParameterInit() {}

    /** Normal with mean 0 and standard deviation {@code std}, as a new tensor of {@code dtype}. */
    public static Tensor normal(Generator gen, DType dtype, double std, int... shape) {
        double[] a = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < a.length; i++) a[i] = std * gen.nextGaussian();
        return TensorArrays.wrap(a, shape).to(dtype).copy();
    }

    /** Uniform on [-bound, bound), as a new tensor of {@code dtype}. */
    public static Tensor uniform(Generator gen, DType dtype, double bound, int... shape) {
        double[] a = new double[(int) Shape.numel(shape)];
        for (int i = 0; i < a.length; i++) a[i] = bound * (2 * gen.nextDouble() - 1);
        return TensorArrays.wrap(a, shape).to(dtype).copy();
    }
}
