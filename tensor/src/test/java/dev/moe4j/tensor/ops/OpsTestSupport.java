package dev.moe4j.tensor.ops;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Random;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.fail;

/** Random shapes and views, naive index walking and the tolerances of the tensor-op tests (one place). */
final class OpsTestSupport {
    private OpsTestSupport() {}

    /** Relative tolerance of a result stored in {@code t} against a double-precision naive value. */
    static double relTol(DType t) {
        return switch (t) {
            case F64 -> 1e-13;
            case F32 -> 2e-6;
            case BF16 -> 8e-3;
            case F16 -> 1e-3;
            default -> 0;
        };
    }

    /** Absolute floor next to {@link #relTol}. */
    static double absTol(DType t) {
        return switch (t) {
            case F64 -> 1e-300;
            case F32 -> 1e-30;
            case BF16, F16 -> 1e-6;
            default -> 0;
        };
    }

    static boolean same(double a, double b) { return a == b || (Double.isNaN(a) && Double.isNaN(b)); }

    static boolean close(double got, double want, double rel, double abs) {
        if (same(got, want)) return true;
        if (Double.isNaN(got) || Double.isNaN(want) || Double.isInfinite(got) || Double.isInfinite(want)) return false;
        return Math.abs(got - want) <= rel * Math.abs(want) + abs;
    }

    /** Calls {@code f} with every index of {@code shape} in row-major order (once with [] for a 0-dim shape). */
    static void forEachIndex(int[] shape, Consumer<int[]> f) {
        long n = Shape.numel(shape);
        int[] idx = new int[shape.length];
        for (long k = 0; k < n; k++) {
            f.accept(idx.clone());
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
    }

    /** The index into a tensor of shape {@code from} that broadcasts to {@code outIdx} of a larger shape. */
    static int[] broadcastIndex(int[] outIdx, int[] from) {
        int[] r = new int[from.length];
        int lead = outIdx.length - from.length;
        for (int i = 0; i < from.length; i++) r[i] = from[i] == 1 ? 0 : outIdx[lead + i];
        return r;
    }

    /** A random shape of rank 0..maxRank with sizes 0..maxSize (zero sizes rarer). */
    static int[] randomShape(Random rnd, int maxRank, int maxSize) {
        int rank = rnd.nextInt(maxRank + 1);
        int[] s = new int[rank];
        for (int i = 0; i < rank; i++) s[i] = rnd.nextInt(12) == 0 ? 0 : 1 + rnd.nextInt(maxSize);
        return s;
    }

    /** A shape that broadcasts to {@code out}: some leading dims dropped, some dims set to 1. */
    static int[] broadcastableTo(Random rnd, int[] out) {
        int drop = out.length == 0 ? 0 : rnd.nextInt(out.length + 1);
        int[] s = new int[out.length - drop];
        for (int i = 0; i < s.length; i++) s[i] = rnd.nextInt(3) == 0 ? 1 : out[drop + i];
        return s;
    }

    /** Random values of {@code dtype} in a contiguous tensor. */
    static Tensor randomContiguous(Random rnd, DType dtype, int... shape) {
        Tensor t = Tensor.zeros(dtype, shape);
        Generator gen = new Generator(rnd.nextLong());
        Tensor values = Tensor.randn(gen, DType.F64, shape);
        if (dtype == DType.BOOL) {
            Tensor b = Tensor.zeros(DType.BOOL, shape);
            forEachIndex(shape, idx -> b.set(rnd.nextBoolean() ? 1 : 0, idx));
            return b;
        }
        if (!dtype.isFloatingPoint()) values = values.mul(20.0);
        return t.copyFrom(values);
    }

    /**
     * Random values of {@code dtype} with the given shape, laid out as a random kind of view:
     * contiguous, permuted (all dims reversed), sliced with step 2 along one dim, or expanded from
     * size-1 dims (stride 0).
     */
    static Tensor randomView(Random rnd, DType dtype, int[] shape) {
        int rank = shape.length;
        int kind = rank == 0 ? 0 : rnd.nextInt(4);
        switch (kind) {
            case 1 -> {
                int[] rev = new int[rank], perm = new int[rank];
                for (int i = 0; i < rank; i++) { rev[i] = shape[rank - 1 - i]; perm[i] = rank - 1 - i; }
                return randomContiguous(rnd, dtype, rev).permute(perm);
            }
            case 2 -> {
                int d = rnd.nextInt(rank);
                int[] big = shape.clone();
                big[d] = 2 * shape[d] + 1;
                return randomContiguous(rnd, dtype, big).slice(d, 1, big[d], 2);
            }
            case 3 -> {
                int[] small = shape.clone();
                for (int i = 0; i < rank; i++) if (rnd.nextBoolean()) small[i] = 1;
                return randomContiguous(rnd, dtype, small).expand(shape);
            }
            default -> {
                return randomContiguous(rnd, dtype, shape);
            }
        }
    }

    /** Fails unless got has the shape and dtype, and each element is close to {@code want(idx)}. */
    static void assertElements(String what, Tensor got, DType dtype, int[] shape, java.util.function.Function<int[], Double> want) {
        if (got.dtype() != dtype) fail(what + ": dtype " + got.dtype() + ", expected " + dtype);
        if (!java.util.Arrays.equals(got.shape(), shape)) fail(what + ": shape " + Shape.str(got.shape()) + ", expected " + Shape.str(shape));
        if (got.numel() > 0 && !got.isContiguous()) fail(what + ": result is not contiguous");
        double rel = relTol(dtype), abs = absTol(dtype);
        forEachIndex(shape, idx -> {
            double g = got.getDouble(idx), w = want.apply(idx);
            if (!close(g, w, rel, abs)) fail(what + ": at " + Shape.str(idx) + " got " + g + ", expected " + w);
        });
    }

    /**
     * Like {@link #assertElements}, for results whose rounding error scales with something larger than
     * the result (sums that cancel, log-softmax): {@code want} gives {expected, scale} and the error
     * may be relTol * max(|expected|, scale) + absTol.
     */
    static void assertElementsScaled(String what, Tensor got, DType dtype, int[] shape, java.util.function.Function<int[], double[]> want) {
        if (got.dtype() != dtype) fail(what + ": dtype " + got.dtype() + ", expected " + dtype);
        if (!java.util.Arrays.equals(got.shape(), shape)) fail(what + ": shape " + Shape.str(got.shape()) + ", expected " + Shape.str(shape));
        double rel = relTol(dtype), abs = absTol(dtype);
        forEachIndex(shape, idx -> {
            double g = got.getDouble(idx);
            double[] w = want.apply(idx);
            if (!close(g, w[0], rel * Math.max(1, w[1] / Math.max(Math.abs(w[0]), Double.MIN_NORMAL)), abs)) {
                fail(what + ": at " + Shape.str(idx) + " got " + g + ", expected " + w[0] + " (scale " + w[1] + ")");
            }
        });
    }

    /** The value a half type stores for {@code v} (round trip through the dtype). */
    static double roundTo(DType t, double v) {
        if (t == DType.F64) return v;
        if (t == DType.F32) return (float) v;
        Tensor s = Tensor.zeros(t);
        s.set(v);
        return s.item();
    }
}
