package dev.moe4j.tensor.testing;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Whether two computations of the same tensor agree (in the spirit of {@code torch.testing.assert_close}):
 * a reference ({@code want}, usually F32 on the CPU) against a result under test ({@code got}, any device,
 * F32 or BF16). Used by the checks of the CUDA paths against the CPU; the tolerances live here.
 *
 * <p>Two measures, chosen by the tolerance:
 * <ul>
 *   <li>below {@link #BF16} (F32 results): every element within {@code tol * max(1e-3, max |want|)};</li>
 *   <li>{@link #BF16} and above: the relative error of the whole tensor,
 *       {@code ||got - want||_2 / ||want||_2 <= tol} (the usual measure for bf16 operands, whose chained
 *       roundings land between 1e-3 and 1e-2), and no element further off than {@code 4 tol max |want|},
 *       so that a few wrong elements cannot hide in the norm.</li>
 * </ul>
 * NaN never agrees. A disagreement is an {@link AssertionError} naming the element, both values and the bound.
 */
public final class Agreement {
    private Agreement() {}

    /** F32 against an F32 reference. */
    public static final double F32 = 1e-5;
    /** BF16 against an F32 reference computed from the same bf16-rounded inputs and parameters. */
    public static final double BF16 = 1e-2;

    /** The tolerance for results computed in {@code dtype}: {@link #BF16} for BF16, else {@link #F32}. */
    public static double tolerance(DType dtype) { return dtype == DType.BF16 ? BF16 : F32; }

    /**
     * Checks that {@code got} holds {@code want}'s values within {@code tol} (see the class comment).
     *
     * @param what names the tensor in the message
     * @throws AssertionError when either is null, the shapes differ, or the values do not agree
     */
    public static void assertClose(String what, Tensor want, Tensor got, double tol) {
        if (want == null || got == null) throw new AssertionError(what + ": " + (want == null ? "no reference value" : "no value under test"));
        if (!Arrays.equals(want.shape(), got.shape())) {
            throw new AssertionError(what + ": shape " + Shape.str(got.shape()) + ", the reference has " + Shape.str(want.shape()));
        }
        float[] w = want.cpu().to(DType.F32).toFloatArray(), g = got.cpu().to(DType.F32).toFloatArray();
        boolean normWise = tol >= BF16;
        double scale = 1e-3, diff2 = 0, want2 = 0;
        for (float v : w) scale = Math.max(scale, Math.abs(v));
        double bound = (normWise ? 4 : 1) * tol * scale;
        for (int i = 0; i < w.length; i++) {
            if (!(Math.abs(g[i] - w[i]) <= bound)) {
                throw new AssertionError(what + " at " + i + " of " + w.length + ": reference " + w[i] + ", got " + g[i] + " (scale " + scale
                        + ", bound " + bound + ")");
            }
            diff2 += (double) (g[i] - w[i]) * (g[i] - w[i]);
            want2 += (double) w[i] * w[i];
        }
        if (normWise) {
            double rel = Math.sqrt(diff2) / Math.max(Math.sqrt(want2), 1e-3 * Math.sqrt(Math.max(1, w.length)));
            if (!(rel <= tol)) throw new AssertionError(what + ": relative error " + rel + " over " + w.length + " elements (tolerance " + tol + ")");
        }
    }

    /**
     * Checks the gradient of every parameter by name: the same names, and for each both gradients
     * absent or both present and agreeing within {@code tolerance.applyAsDouble(name)}.
     *
     * @throws AssertionError naming the first parameter that differs
     */
    public static void assertGradsClose(Map<String, Tensor> want, Map<String, Tensor> got, ToDoubleFunction<String> tolerance) {
        if (!want.keySet().equals(got.keySet())) throw new AssertionError("parameter names " + got.keySet() + ", the reference has " + want.keySet());
        for (String name : want.keySet()) {
            Tensor gw = want.get(name).grad(), gg = got.get(name).grad();
            if (gw == null && gg == null) continue;
            if (gw == null || gg == null) {
                throw new AssertionError("gradient of " + name + ": reference " + (gw == null ? "none" : "present") + ", under test "
                        + (gg == null ? "none" : "present"));
            }
            assertClose("gradient of " + name, gw, gg, tolerance.applyAsDouble(name));
        }
    }
}
