package dev.moe4j.autograd.nn;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/** Parameter initialisations (the ones {@code torch.nn} layers use by default). */
public final class Init {
    private Init() {}

    /** Uniform on [-bound, bound). */
    public static Tensor uniform(Generator gen, DType dtype, double bound, int... shape) {
        return Tensor.rand(gen, DType.F64, shape).mul(2 * bound).sub(bound).to(dtype);
    }

    /** Normal with mean 0 and standard deviation {@code std}. */
    public static Tensor normal(Generator gen, DType dtype, double std, int... shape) {
        return Tensor.randn(gen, DType.F64, shape).mul(std).to(dtype);
    }
}
