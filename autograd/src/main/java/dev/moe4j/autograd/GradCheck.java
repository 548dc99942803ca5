package dev.moe4j.autograd;

import dev.moe4j.tensor.CpuStorage;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Checks analytic gradients against central finite differences, in float64 (as
 * {@code torch.autograd.gradcheck}).
 *
 * <p>For a function y = f(x_1, ..., x_n) and a random direction v of y's shape, the scalar
 * L = &lt;v, f(x)&gt; has the analytic gradient dL/dx_i = backward(y, v), and, element by element,
 * <pre>
 *   dL/dx[j] ~ (L(x + h e_j) - L(x - h e_j)) / (2h)      (error O(h^2))
 * </pre>
 * Each element is perturbed in place (and restored), so inputs may be any non-overlapping views:
 * transposed, sliced, strided. Expanded views (stride 0 on a dim longer than 1) are rejected,
 * since one storage element stands for several tensor elements there. An element passes when
 * {@code |analytic - numeric| <= atol + rtol * |numeric|}.
 *
 * <p>Only inputs that require a gradient are checked; the others (indices, masks, constants) are
 * passed through unchanged. Checked inputs must be F64.
 */
public final class GradCheck {
    private GradCheck() {}

    /** Default step h. */
    public static final double EPS = 1e-6;
    /** Default absolute tolerance. */
    public static final double ATOL = 1e-6;
    /** Default relative tolerance. */
    public static final double RTOL = 1e-5;

    /**
     * Outcome of a check.
     *
     * @param passed      every element within tolerance
     * @param maxAbsError largest |analytic - numeric| over all checked elements
     * @param worst       where that largest error occurred, readable (input, index, both values)
     * @param checked     number of elements compared
     */
    public record Result(boolean passed, double maxAbsError, String worst, int checked) {}

    /** Checks with the default step and tolerances and a fixed direction seed. */
    public static Result check(Function<Tensor[], Tensor> f, Tensor... inputs) {
        return check(f, EPS, ATOL, RTOL, 1234, inputs);
    }

    /**
     * Checks the gradients of {@code f} at {@code inputs}.
     *
     * @param f      the function; must be deterministic
     * @param eps    the step h
     * @param atol   absolute tolerance
     * @param rtol   relative tolerance
     * @param seed   seed of the random direction v
     * @param inputs the point; inputs that require a gradient are checked
     * @throws IllegalArgumentException when a checked input is not F64 or is an expanded view, or when
     *         no input requires a gradient
     */
    public static Result check(Function<Tensor[], Tensor> f, double eps, double atol, double rtol, long seed, Tensor... inputs) {
        List<Integer> checkedInputs = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            Tensor x = inputs[i];
            if (x == null || !x.requiresGrad()) continue;
            if (x.dtype() != DType.F64) {
                throw new IllegalArgumentException("gradient check needs F64 inputs, input " + i + " is " + x.dtype());
            }
            for (int d = 0; d < x.rank(); d++) {
                if (x.stride(d) == 0 && x.size(d) > 1) {
                    throw new IllegalArgumentException("gradient check input " + i + " of shape " + Shape.str(x.shape())
                            + " is an expanded view (stride 0 on dim " + d + "); pass a copy");
                }
            }
            checkedInputs.add(i);
        }
        if (checkedInputs.isEmpty()) throw new IllegalArgumentException("gradient check: no input requires a gradient");

        Tensor y = f.apply(inputs);
        Tensor v = Tensor.randn(new Generator(seed), y.dtype().isFloatingPoint() ? y.dtype() : DType.F64, y.shape());
        Tensor[] wanted = new Tensor[checkedInputs.size()];
        for (int k = 0; k < wanted.length; k++) wanted[k] = inputs[checkedInputs.get(k)];
        Tensor[] analytic;
        if (y.requiresGrad()) {
            analytic = Autograd.grad(y, v, false, wanted);
        } else {
            analytic = new Tensor[wanted.length];
            for (int k = 0; k < wanted.length; k++) analytic[k] = Tensor.zerosLike(wanted[k]);
        }

        double maxErr = 0;
        String worstAny = null, firstFailure = null;
        boolean passed = true;
        int count = 0;
        try (NoGrad scope = NoGrad.enter()) {
            for (int k = 0; k < wanted.length; k++) {
                Tensor x = wanted[k];
                CpuStorage s = x.cpuStorage();
                int[] positions = storagePositions(x);
                double[] a = analytic[k].toDoubleArray();
                for (int j = 0; j < positions.length; j++) {
                    int p = positions[j];
                    double orig = s.getDouble(p);
                    s.setDouble(p, orig + eps);
                    x.storage().bumpVersion();
                    double plus = dot(f.apply(inputs), v);
                    s.setDouble(p, orig - eps);
                    x.storage().bumpVersion();
                    double minus = dot(f.apply(inputs), v);
                    s.setDouble(p, orig);
                    x.storage().bumpVersion();
                    double numeric = (plus - minus) / (2 * eps);
                    double err = Math.abs(a[j] - numeric);
                    boolean ok = err <= atol + rtol * Math.abs(numeric) && !Double.isNaN(a[j]);
                    count++;
                    if (Double.isNaN(err) || err > maxErr || worstAny == null) {
                        maxErr = Double.isNaN(err) || Double.isNaN(maxErr) ? Double.NaN : Math.max(maxErr, err);
                        worstAny = describe(checkedInputs.get(k), x, j, a[j], numeric);
                    }
                    if (!ok && firstFailure == null) firstFailure = describe(checkedInputs.get(k), x, j, a[j], numeric);
                    passed &= ok;
                }
            }
        }
        String worst = firstFailure != null ? firstFailure : worstAny;
        return new Result(passed, maxErr, worst, count);
    }

    /**
     * Like {@link #check(Function, Tensor...)} but throws {@link AssertionError} with the worst
     * element when the check fails: for use in tests.
     */
    public static void assertGradients(Function<Tensor[], Tensor> f, Tensor... inputs) {
        Result r = check(f, inputs);
        if (!r.passed()) throw new AssertionError("gradient check failed: " + r.worst() + " (max abs error " + r.maxAbsError() + ")");
    }

    private static String describe(int input, Tensor x, int j, double analytic, double numeric) {
        return "input " + input + " " + Shape.str(x.shape()) + " element " + j + ": analytic " + analytic + ", numeric " + numeric;
    }

    private static double dot(Tensor y, Tensor v) {
        double[] a = y.toDoubleArray(), b = v.toDoubleArray();
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** Storage index of each element of x in row-major order. */
    private static int[] storagePositions(Tensor x) {
        int[] out = new int[x.numel()];
        int[] k = {0};
        x.forEachIndex(p -> out[k[0]++] = p);
        int[] sorted = out.clone();
        Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1]) throw new IllegalArgumentException("gradient check input of shape " + Shape.str(x.shape()) + " has overlapping elements");
        }
        return out;
    }
}
