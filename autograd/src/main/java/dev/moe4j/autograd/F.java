package dev.moe4j.autograd;

import dev.moe4j.autograd.ops.Abs;
import dev.moe4j.autograd.ops.Add;
import dev.moe4j.autograd.ops.AddScalar;
import dev.moe4j.autograd.ops.Cast;
import dev.moe4j.autograd.ops.Cat;
import dev.moe4j.autograd.ops.Contiguous;
import dev.moe4j.autograd.ops.CrossEntropy;
import dev.moe4j.autograd.ops.Div;
import dev.moe4j.autograd.ops.DivScalar;
import dev.moe4j.autograd.ops.Dropout;
import dev.moe4j.autograd.ops.Embedding;
import dev.moe4j.autograd.ops.Exp;
import dev.moe4j.autograd.ops.Expand;
import dev.moe4j.autograd.ops.Gather;
import dev.moe4j.autograd.ops.Gelu;
import dev.moe4j.autograd.ops.GeluTanh;
import dev.moe4j.autograd.ops.IndexAdd;
import dev.moe4j.autograd.ops.IndexSelect;
import dev.moe4j.autograd.ops.LayerNorm;
import dev.moe4j.autograd.ops.Linear;
import dev.moe4j.autograd.ops.Log;
import dev.moe4j.autograd.ops.LogSoftmax;
import dev.moe4j.autograd.ops.LogSumExp;
import dev.moe4j.autograd.ops.MaskedFill;
import dev.moe4j.autograd.ops.MatMul;
import dev.moe4j.autograd.ops.MaxDim;
import dev.moe4j.autograd.ops.Maximum;
import dev.moe4j.autograd.ops.Mean;
import dev.moe4j.autograd.ops.Minimum;
import dev.moe4j.autograd.ops.MseLoss;
import dev.moe4j.autograd.ops.Mul;
import dev.moe4j.autograd.ops.MulScalar;
import dev.moe4j.autograd.ops.Neg;
import dev.moe4j.autograd.ops.Permute;
import dev.moe4j.autograd.ops.Pow;
import dev.moe4j.autograd.ops.PowScalar;
import dev.moe4j.autograd.ops.Reduction;
import dev.moe4j.autograd.ops.Relu;
import dev.moe4j.autograd.ops.Reshape;
import dev.moe4j.autograd.ops.RmsNorm;
import dev.moe4j.autograd.ops.Rsqrt;
import dev.moe4j.autograd.ops.ScatterAdd;
import dev.moe4j.autograd.ops.Select;
import dev.moe4j.autograd.ops.Sigmoid;
import dev.moe4j.autograd.ops.Silu;
import dev.moe4j.autograd.ops.Slice;
import dev.moe4j.autograd.ops.Softmax;
import dev.moe4j.autograd.ops.Sqrt;
import dev.moe4j.autograd.ops.Squeeze;
import dev.moe4j.autograd.ops.Stack;
import dev.moe4j.autograd.ops.Sub;
import dev.moe4j.autograd.ops.Sum;
import dev.moe4j.autograd.ops.Tanh;
import dev.moe4j.autograd.ops.TopKValues;
import dev.moe4j.autograd.ops.Transpose;
import dev.moe4j.autograd.ops.Unsqueeze;
import dev.moe4j.autograd.ops.Var;
import dev.moe4j.autograd.ops.Where;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;

import java.util.List;

/**
 * The differentiable operations, as static functions in the style of {@code torch} and
 * {@code torch.nn.functional}: each call runs the forward computation and, when an input requires a
 * gradient (and no {@link NoGrad} scope is open), records it for {@link Autograd#backward}.
 *
 * <pre>{@code
 * Tensor w = Tensor.randn(gen, DType.F32, 4, 3).setRequiresGrad(true);
 * Tensor loss = F.crossEntropy(F.matmul(x, w), target);
 * Autograd.backward(loss);          // w.grad() now holds dloss/dw
 * }</pre>
 *
 * Shapes and broadcasting follow the forward ops of {@link Tensor}; every op here has a class in
 * {@code dev.moe4j.autograd.ops} with its derivative written out.
 */
public final class F {
    private F() {}

    // ------------------------------------------------------------------ arithmetic (broadcasting)

    /** a + b. */
    public static Tensor add(Tensor a, Tensor b) { return new Add().apply(a, b); }
    /** a + s. */
    public static Tensor add(Tensor a, double s) { return new AddScalar(s).apply(a); }
    /** a - b. */
    public static Tensor sub(Tensor a, Tensor b) { return new Sub().apply(a, b); }
    /** a - s. */
    public static Tensor sub(Tensor a, double s) { return new AddScalar(-s).apply(a); }
    /** s - a. */
    public static Tensor rsub(double s, Tensor a) { return new AddScalar(s).apply(neg(a)); }
    /** a * b. */
    public static Tensor mul(Tensor a, Tensor b) { return new Mul().apply(a, b); }
    /** a * s. */
    public static Tensor mul(Tensor a, double s) { return new MulScalar(s).apply(a); }
    /** a / b. */
    public static Tensor div(Tensor a, Tensor b) { return new Div().apply(a, b); }
    /** a / s. */
    public static Tensor div(Tensor a, double s) { return new DivScalar(s).apply(a); }
    /** a ^ b. */
    public static Tensor pow(Tensor a, Tensor b) { return new Pow().apply(a, b); }
    /** a ^ p. */
    public static Tensor pow(Tensor a, double p) { return new PowScalar(p).apply(a); }
    /** a * a. */
    public static Tensor square(Tensor a) { return new PowScalar(2).apply(a); }
    /** Elementwise max(a, b). */
    public static Tensor maximum(Tensor a, Tensor b) { return new Maximum().apply(a, b); }
    /** Elementwise min(a, b). */
    public static Tensor minimum(Tensor a, Tensor b) { return new Minimum().apply(a, b); }

    // ------------------------------------------------------------------ unary

    /** -x. */
    public static Tensor neg(Tensor x) { return new Neg().apply(x); }
    /** |x|. */
    public static Tensor abs(Tensor x) { return new Abs().apply(x); }
    /** e^x. */
    public static Tensor exp(Tensor x) { return new Exp().apply(x); }
    /** ln x. */
    public static Tensor log(Tensor x) { return new Log().apply(x); }
    /** sqrt(x). */
    public static Tensor sqrt(Tensor x) { return new Sqrt().apply(x); }
    /** 1 / sqrt(x). */
    public static Tensor rsqrt(Tensor x) { return new Rsqrt().apply(x); }
    /** max(x, 0). */
    public static Tensor relu(Tensor x) { return new Relu().apply(x); }
    /** GELU, exact (erf) form. */
    public static Tensor gelu(Tensor x) { return new Gelu().apply(x); }
    /** GELU, tanh approximation ({@code approximate="tanh"}). */
    public static Tensor geluTanh(Tensor x) { return new GeluTanh().apply(x); }
    /** x * sigmoid(x). */
    public static Tensor silu(Tensor x) { return new Silu().apply(x); }
    /** 1 / (1 + e^-x). */
    public static Tensor sigmoid(Tensor x) { return new Sigmoid().apply(x); }
    /** tanh x. */
    public static Tensor tanh(Tensor x) { return new Tanh().apply(x); }

    // ------------------------------------------------------------------ softmax and reductions

    /** Softmax over {@code dim}. */
    public static Tensor softmax(Tensor x, int dim) { return new Softmax(dim).apply(x); }
    /** log(softmax) over {@code dim}. */
    public static Tensor logSoftmax(Tensor x, int dim) { return new LogSoftmax(dim).apply(x); }
    /** Sum of all elements (0-dim). */
    public static Tensor sum(Tensor x) { return new Sum(null, false).apply(x); }
    /** Sum over {@code dim}. */
    public static Tensor sum(Tensor x, int dim, boolean keepDim) { return new Sum(new int[] {dim}, keepDim).apply(x); }
    /** Sum over {@code dims}. */
    public static Tensor sum(Tensor x, int[] dims, boolean keepDim) { return new Sum(dims, keepDim).apply(x); }
    /** Mean of all elements (0-dim). */
    public static Tensor mean(Tensor x) { return new Mean(null, false).apply(x); }
    /** Mean over {@code dim}. */
    public static Tensor mean(Tensor x, int dim, boolean keepDim) { return new Mean(new int[] {dim}, keepDim).apply(x); }
    /** Mean over {@code dims}. */
    public static Tensor mean(Tensor x, int[] dims, boolean keepDim) { return new Mean(dims, keepDim).apply(x); }
    /** Largest value over {@code dim} (the gradient goes to the first maximal element). */
    public static Tensor max(Tensor x, int dim, boolean keepDim) { return MaxDim.max(dim, keepDim).apply(x); }
    /** Largest element (0-dim). */
    public static Tensor max(Tensor x) { return MaxDim.max(0, false).apply(flatten(x)); }
    /** Smallest value over {@code dim}. */
    public static Tensor min(Tensor x, int dim, boolean keepDim) { return MaxDim.min(dim, keepDim).apply(x); }
    /** Smallest element (0-dim). */
    public static Tensor min(Tensor x) { return MaxDim.min(0, false).apply(flatten(x)); }
    /** log sum exp over {@code dim}. */
    public static Tensor logsumexp(Tensor x, int dim, boolean keepDim) { return new LogSumExp(dim, keepDim).apply(x); }
    /** Variance over {@code dims} (null: all) with {@code correction} (1: unbiased). */
    public static Tensor var(Tensor x, int[] dims, int correction, boolean keepDim) { return new Var(dims, correction, keepDim).apply(x); }

    // ------------------------------------------------------------------ products

    /**
     * Matrix product as {@code torch.matmul}: [m, k] x [k, n]; batched [..., m, k] x [..., k, n] with
     * broadcast batch dims; a 1-D left operand is a row vector and a 1-D right operand a column
     * vector, their added dim removed from the result.
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        if (a.rank() == 0 || b.rank() == 0) {
            throw new IllegalArgumentException("matmul needs operands of rank >= 1, got ranks " + a.rank() + " and " + b.rank());
        }
        boolean aVec = a.rank() == 1, bVec = b.rank() == 1;
        Tensor y = new MatMul().apply(aVec ? unsqueeze(a, 0) : a, bVec ? unsqueeze(b, 1) : b);
        if (bVec) y = squeeze(y, -1);
        if (aVec) y = squeeze(y, -2 + (bVec ? 1 : 0));
        return y;
    }

    /** x W^T + b: x [..., in], W [out, in], b [out] or null. */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        return bias == null ? new Linear().apply(x, weight) : new Linear().apply(x, weight, bias);
    }

    // ------------------------------------------------------------------ indexing

    /** Slices along {@code dim} at the 1-D integer {@code index}. */
    public static Tensor indexSelect(Tensor x, int dim, Tensor index) { return new IndexSelect(dim).apply(x, index); }
    /** Gather along {@code dim}. */
    public static Tensor gather(Tensor x, int dim, Tensor index) { return new Gather(dim).apply(x, index); }
    /** x with src added at index along {@code dim} (scatter_add). */
    public static Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) { return new ScatterAdd(dim).apply(x, index, src); }
    /** x with the slices of src added at the 1-D index along {@code dim} (index_add). */
    public static Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src) { return new IndexAdd(dim).apply(x, index, src); }
    /** x with {@code value} where the BOOL mask is true. */
    public static Tensor maskedFill(Tensor x, Tensor mask, double value) { return new MaskedFill(value).apply(x, mask); }
    /** cond ? a : b (broadcasting). */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) { return new Where().apply(cond, a, b); }
    /** The k largest (or smallest) along {@code dim}: differentiable values, and their indices. */
    public static TopK topk(Tensor x, int k, int dim, boolean largest) {
        TopKValues op = new TopKValues(k, dim, largest);
        Tensor values = op.apply(x);
        return new TopK(values, op.indices());
    }
    /** Rows of the weight [V, d] at the integer indices [...]: [..., d]. */
    public static Tensor embedding(Tensor indices, Tensor weight) { return new Embedding().apply(indices, weight); }

    // ------------------------------------------------------------------ views and shape

    /** Same elements, another shape (copies only when needed); one dim may be -1. */
    public static Tensor reshape(Tensor x, int... shape) { return new Reshape(shape, false).apply(x); }
    /** Same elements, another shape, never copying (throws when the layout does not allow it). */
    public static Tensor view(Tensor x, int... shape) { return new Reshape(shape, true).apply(x); }
    /** All dims in one. */
    public static Tensor flatten(Tensor x) { return reshape(x, -1); }
    /** Swaps two dims. */
    public static Tensor transpose(Tensor x, int d0, int d1) { return new Transpose(d0, d1).apply(x); }
    /** Transpose of the last two dims. */
    public static Tensor mT(Tensor x) { return transpose(x, -2, -1); }
    /** Reorders dims. */
    public static Tensor permute(Tensor x, int... dims) { return new Permute(dims).apply(x); }
    /** {@code length} elements from {@code start} along {@code dim}. */
    public static Tensor narrow(Tensor x, int dim, int start, int length) {
        int d = dim < 0 ? dim + x.rank() : dim;
        if (d < 0 || d >= x.rank()) throw new IndexOutOfBoundsException("dim " + dim + " out of range for rank " + x.rank());
        if (start < 0 || length < 0 || start + length > x.size(d)) {
            throw new IndexOutOfBoundsException("narrow(dim " + dim + ", start " + start + ", length " + length + ") outside size " + x.size(d));
        }
        return new Slice(d, start, start + length, 1).apply(x);
    }
    /** {@code start, start+step, ...} below {@code end} along {@code dim}. */
    public static Tensor slice(Tensor x, int dim, int start, int end, int step) { return new Slice(dim, start, end, step).apply(x); }
    /** The sub-tensor at {@code index} along {@code dim}, that dim removed. */
    public static Tensor select(Tensor x, int dim, int index) { return new Select(dim, index).apply(x); }
    /** Broadcast to {@code shape}. */
    public static Tensor expand(Tensor x, int... shape) { return new Expand(shape).apply(x); }
    /** Removes {@code dim} when its size is 1. */
    public static Tensor squeeze(Tensor x, int dim) { return new Squeeze(dim).apply(x); }
    /** Removes every dim of size 1. */
    public static Tensor squeeze(Tensor x) { return new Squeeze(null).apply(x); }
    /** Inserts a dim of size 1. */
    public static Tensor unsqueeze(Tensor x, int dim) { return new Unsqueeze(dim).apply(x); }
    /** Concatenation along {@code dim}. */
    public static Tensor cat(List<Tensor> xs, int dim) { return new Cat(dim).apply(xs.toArray(new Tensor[0])); }
    /** Stack along a new dim. */
    public static Tensor stack(List<Tensor> xs, int dim) { return new Stack(dim).apply(xs.toArray(new Tensor[0])); }
    /** A contiguous version (a copy only when needed). */
    public static Tensor contiguous(Tensor x) { return new Contiguous(false).apply(x); }
    /** A contiguous copy. */
    public static Tensor clone(Tensor x) { return new Contiguous(true).apply(x); }
    /** Conversion to a floating-point dtype. */
    public static Tensor to(Tensor x, DType dtype) { return new Cast(dtype).apply(x); }

    // ------------------------------------------------------------------ layers and losses

    /**
     * Cross-entropy of logits [N, C] against class targets [N], mean over the samples, no smoothing,
     * ignoring targets equal to -100 (PyTorch's defaults).
     */
    public static Tensor crossEntropy(Tensor logits, Tensor target) {
        return crossEntropy(logits, target, -100, 0.0, Reduction.MEAN);
    }

    /** Cross-entropy with an ignored target value, label smoothing and a reduction; see {@link CrossEntropy}. */
    public static Tensor crossEntropy(Tensor logits, Tensor target, long ignoreIndex, double labelSmoothing, Reduction reduction) {
        return new CrossEntropy(ignoreIndex, labelSmoothing, reduction).apply(logits, target);
    }

    /** Mean squared error, averaged over all elements. */
    public static Tensor mseLoss(Tensor x, Tensor target) { return mseLoss(x, target, Reduction.MEAN); }

    /** Squared error with a reduction. */
    public static Tensor mseLoss(Tensor x, Tensor target, Reduction reduction) { return new MseLoss(reduction).apply(x, target); }

    /** Layer norm over the trailing {@code normalizedShape} dims; weight and bias may be null. */
    public static Tensor layerNorm(Tensor x, int[] normalizedShape, Tensor weight, Tensor bias, double eps) {
        LayerNorm op = new LayerNorm(normalizedShape, eps);
        if (bias != null) return op.apply(x, weight, bias);
        return weight != null ? op.apply(x, weight) : op.apply(x);
    }

    /** RMS norm over the trailing {@code normalizedShape} dims; weight may be null. */
    public static Tensor rmsNorm(Tensor x, int[] normalizedShape, Tensor weight, double eps) {
        RmsNorm op = new RmsNorm(normalizedShape, eps);
        return weight != null ? op.apply(x, weight) : op.apply(x);
    }

    /**
     * Dropout with probability p: in training, elements are zeroed with probability p and the others
     * scaled by 1/(1-p); in evaluation ({@code training} false) or for p = 0 it returns x unchanged.
     */
    public static Tensor dropout(Tensor x, double p, boolean training, Generator generator) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout probability must lie in [0, 1], got " + p);
        if (!training || p == 0) return x;
        return new Dropout(p, generator).apply(x);
    }

    /**
     * The SwiGLU feed-forward block (Shazeer 2020, "GLU variants improve transformer"):
     * {@code down(silu(x Wg^T) * (x Wu^T))}; x [..., d], wGate and wUp [f, d], wDown [d, f].
     */
    public static Tensor swiglu(Tensor x, Tensor wGate, Tensor wUp, Tensor wDown) {
        Tensor h = mul(silu(linear(x, wGate, null)), linear(x, wUp, null));
        return linear(h, wDown, null);
    }
}
