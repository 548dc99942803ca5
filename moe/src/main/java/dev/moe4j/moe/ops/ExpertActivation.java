package dev.moe4j.moe.ops;

import dev.moe4j.kernels.cpu.Erf;
import dev.moe4j.tensor.Tensor;
import java.util.Locale;

/**
 * The element-wise nonlinearity of an expert FFN, with its derivative, in double.
 *
 * <p>Hugging Face names ({@code hidden_act} / {@code dense_act_fn}) map by {@link #fromHuggingFace}.
 */
public enum ExpertActivation {
    /** {@code silu(x) = x * sigmoid(x)} (SwiGLU experts of Mixtral, Qwen2-MoE, DeepSeek-V3). */
    SILU,
    /** {@code gelu(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt 2))}, the exact form. */
    GELU,
    /** {@code gelu(x) ~ x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))}, the tanh approximation. */
    GELU_TANH,
    /** {@code relu(x) = max(x, 0)} (Switch Transformers experts); derivative 0 at x = 0. */
    RELU;

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
    private static final double INV_SQRT_2 = 1 / Math.sqrt(2);
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

    /** The activation at x. */
    public double apply(double x) {
        return switch (this) {
            case SILU -> x / (1 + Math.exp(-x));
            case GELU -> 0.5 * x * Erf.erfc(-x * INV_SQRT_2);
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
            case RELU -> x > 0 ? x : 0;
        };
    }

    /** The derivative at x. */
    public double derivative(double x) {
        return switch (this) {
            case SILU -> {
                double s = 1 / (1 + Math.exp(-x));
                yield s * (1 + x * (1 - s));
            }
            case GELU -> 0.5 * Erf.erfc(-x * INV_SQRT_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
            case GELU_TANH -> {
                double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
                double t = Math.tanh(u);
                double du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
            }
            case RELU -> x > 0 ? 1 : 0;
        };
    }

    /**
     * The activation element-wise on a tensor, composed of generic tensor ops (so it runs on the
     * tensor's device, in its dtype): {@code silu}, {@code gelu}, {@code geluTanh}, {@code relu}.
     */
    public Tensor apply(Tensor x) {
        return switch (this) {
            case SILU -> x.silu();
            case GELU -> x.gelu();
            case GELU_TANH -> x.geluTanh();
            case RELU -> x.relu();
        };
    }

    /**
     * The derivative element-wise on a tensor, composed of generic tensor ops:
     * <pre>
     *   silu'      = s (1 + x (1 - s)),  s = sigmoid(x)
     *   gelu'      = Phi(x) + x phi(x),   Phi(x) = gelu(x) / x (1/2 at x = 0), phi the normal density
     *   gelu_tanh' = (1 + t) / 2 + x (1 - t^2) u' / 2,  t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3)
     *   relu'      = [x &gt; 0]
     * </pre>
     */
    public Tensor derivative(Tensor x) {
        Tensor zero = DeviceOps.zeros(x.dtype(), x.device());             // a 0-dim zero beside x
        return switch (this) {
            case SILU -> {
                Tensor s = x.sigmoid();
                yield s.mul(x.mul(s.neg().add(1.0)).add(1.0));
            }
            case GELU -> {
                Tensor isZero = x.eq(zero);
                Tensor cdf = x.gelu().div(x).maskedFill(isZero, 0.5);
                Tensor pdf = x.mul(x).mul(-0.5).exp().mul(INV_SQRT_2PI);
                yield cdf.add(x.mul(pdf));
            }
            case GELU_TANH -> {
                Tensor x2 = x.mul(x);
                Tensor t = x.add(x2.mul(x).mul(0.044715)).mul(SQRT_2_OVER_PI).tanh();
                Tensor du = x2.mul(3 * 0.044715).add(1.0).mul(SQRT_2_OVER_PI);
                yield t.add(1.0).mul(0.5).add(x.mul(t.mul(t).neg().add(1.0)).mul(du).mul(0.5));
            }
            case RELU -> x.gt(zero).to(x.dtype());
        };
    }

    /**
     * The activation a Hugging Face config names: {@code silu}/{@code swish}, {@code gelu},
     * {@code gelu_new}/{@code gelu_pytorch_tanh}/{@code gelu_fast}, {@code relu}.
     *
     * @throws IllegalArgumentException for any other name, listing the supported ones
     */
    public static ExpertActivation fromHuggingFace(String name) {
        if (name == null) throw new IllegalArgumentException("activation name is missing; supported: silu, swish, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu");
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "silu", "swish" -> SILU;
            case "gelu" -> GELU;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> GELU_TANH;
            case "relu" -> RELU;
            default -> throw new IllegalArgumentException("unsupported activation '" + name
                    + "'; supported: silu, swish, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu");
        };
    }
}
