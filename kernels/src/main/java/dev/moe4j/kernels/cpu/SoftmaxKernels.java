package dev.moe4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax and log-softmax of one strided run (a row, or a column of a larger tensor).
 *
 * <pre>
 *   x[xOff + i*xStride], i &lt; n   -&gt;   out[outOff + i*outStride]
 *   softmax:     out_i = e^(x_i - m) / s,         m = max_j x_j,  s = &Sigma;_j e^(x_j - m)
 *   log-softmax: out_i = (x_i - m) - log s
 * </pre>
 * Subtracting the max makes every exponent &le; 0, so nothing overflows and the largest term is 1
 * (s &ge; 1, so log s is never -&infin; for finite input). As in PyTorch, a run that is all
 * -&infin; (or holds +&infin; or NaN) gives NaN.
 *
 * <p>Vector API version (both strides 1): pass 1 lane max; pass 2 writes e^(x - m) to {@code out} and
 * sums it (lane accumulators per block, blocks pairwise, as {@link ReduceKernels#sumExp}); pass 3
 * divides by s. For log-softmax pass 2 only sums and pass 3 writes (x - m) - log s. Float runs
 * compute in float lanes; the float reference takes the exponentials and the sum in double.
 */
public final class SoftmaxKernels {
    private SoftmaxKernels() {}

    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;

    // =================================================================== scalar reference

    /** Softmax of x[xOff + i*xStride] into out[outOff + i*outStride], i &lt; n (float input: exponentials and sum in double). */
    public static void softmaxReference(float[] x, int xOff, int xStride, float[] out, int outOff, int outStride, int n) {
        if (n == 0) return;
        float m = ReduceKernels.maxReference(x, xOff, xStride, n);
        double s = ReduceKernels.sumExpReference(x, xOff, xStride, n, m);
        for (int i = 0; i < n; i++) out[outOff + i * outStride] = (float) (Math.exp(x[xOff + i * xStride] - m) / s);
    }

    /** Double form. */
    public static void softmaxReference(double[] x, int xOff, int xStride, double[] out, int outOff, int outStride, int n) {
        if (n == 0) return;
        double m = ReduceKernels.maxReference(x, xOff, xStride, n);
        double s = ReduceKernels.sumExpReference(x, xOff, xStride, n, m);
        for (int i = 0; i < n; i++) out[outOff + i * outStride] = Math.exp(x[xOff + i * xStride] - m) / s;
    }

    /** Log-softmax of x[xOff + i*xStride] into out[outOff + i*outStride], i &lt; n. */
    public static void logSoftmaxReference(float[] x, int xOff, int xStride, float[] out, int outOff, int outStride, int n) {
        if (n == 0) return;
        float m = ReduceKernels.maxReference(x, xOff, xStride, n);
        double logS = Math.log(ReduceKernels.sumExpReference(x, xOff, xStride, n, m));
        for (int i = 0; i < n; i++) out[outOff + i * outStride] = (float) ((x[xOff + i * xStride] - m) - logS);
    }

    /** Double form. */
    public static void logSoftmaxReference(double[] x, int xOff, int xStride, double[] out, int outOff, int outStride, int n) {
        if (n == 0) return;
        double m = ReduceKernels.maxReference(x, xOff, xStride, n);
        double logS = Math.log(ReduceKernels.sumExpReference(x, xOff, xStride, n, m));
        for (int i = 0; i < n; i++) out[outOff + i * outStride] = (x[xOff + i * xStride] - m) - logS;
    }

    // =================================================================== Vector API version

    /** Softmax; three lane passes when both strides are 1 (exponentials stored while summed), else the reference. */
    public static void softmax(float[] x, int xOff, int xStride, float[] out, int outOff, int outStride, int n) {
        if (xStride != 1 || outStride != 1 || n == 0) {
            softmaxReference(x, xOff, xStride, out, outOff, outStride, n);
            return;
        }
        float m = ReduceKernels.max(x, xOff, 1, n);
        float s = ReduceKernels.sumExpContiguous(x, xOff, n, m, out, outOff);
        FloatVector vs = FloatVector.broadcast(FS, s);
        int step = FS.length(), bound = FS.loopBound(n), i = 0;
        for (; i < bound; i += step) FloatVector.fromArray(FS, out, outOff + i).div(vs).intoArray(out, outOff + i);
        for (; i < n; i++) out[outOff + i] /= s;
    }

    /** Double form. */
    public static void softmax(double[] x, int xOff, int xStride, double[] out, int outOff, int outStride, int n) {
        if (xStride != 1 || outStride != 1 || n == 0) {
            softmaxReference(x, xOff, xStride, out, outOff, outStride, n);
            return;
        }
        double m = ReduceKernels.max(x, xOff, 1, n);
        double s = ReduceKernels.sumExpContiguous(x, xOff, n, m, out, outOff);
        DoubleVector vs = DoubleVector.broadcast(DS, s);
        int step = DS.length(), bound = DS.loopBound(n), i = 0;
        for (; i < bound; i += step) DoubleVector.fromArray(DS, out, outOff + i).div(vs).intoArray(out, outOff + i);
        for (; i < n; i++) out[outOff + i] /= s;
    }

    /** Log-softmax; lane passes when both strides are 1, else the reference. */
    public static void logSoftmax(float[] x, int xOff, int xStride, float[] out, int outOff, int outStride, int n) {
        if (xStride != 1 || outStride != 1 || n == 0) {
            logSoftmaxReference(x, xOff, xStride, out, outOff, outStride, n);
            return;
        }
        float m = ReduceKernels.max(x, xOff, 1, n);
        float logS = (float) Math.log(ReduceKernels.sumExp(x, xOff, 1, n, m));
        FloatVector vm = FloatVector.broadcast(FS, m), vl = FloatVector.broadcast(FS, logS);
        int step = FS.length(), bound = FS.loopBound(n), i = 0;
        for (; i < bound; i += step) FloatVector.fromArray(FS, x, xOff + i).sub(vm).sub(vl).intoArray(out, outOff + i);
        for (; i < n; i++) out[outOff + i] = (x[xOff + i] - m) - logS;
    }

    /** Double form. */
    public static void logSoftmax(double[] x, int xOff, int xStride, double[] out, int outOff, int outStride, int n) {
        if (xStride != 1 || outStride != 1 || n == 0) {
            logSoftmaxReference(x, xOff, xStride, out, outOff, outStride, n);
            return;
        }
        double m = ReduceKernels.max(x, xOff, 1, n);
        double logS = Math.log(ReduceKernels.sumExp(x, xOff, 1, n, m));
        DoubleVector vm = DoubleVector.broadcast(DS, m), vl = DoubleVector.broadcast(DS, logS);
        int step = DS.length(), bound = DS.loopBound(n), i = 0;
        for (; i < bound; i += step) DoubleVector.fromArray(DS, x, xOff + i).sub(vm).sub(vl).intoArray(out, outOff + i);
        for (; i < n; i++) out[outOff + i] = (x[xOff + i] - m) - logS;
    }
}
