package dev.moe4j.tensor;

import dev.moe4j.kernels.cpu.StridedCopy;
import dev.moe4j.tensor.cuda.CudaPointwise;
import dev.moe4j.tensor.cuda.CudaTensors;
import dev.moe4j.tensor.ops.Indexing;
import dev.moe4j.tensor.ops.LinAlg;
import dev.moe4j.tensor.ops.Pointwise;
import dev.moe4j.tensor.ops.Reductions;

import java.util.Arrays;
import java.util.List;

/**
 * An n-dimensional array: a view (shape, strides, offset) over a {@link Storage}.
 *
 * <p>Shapes are {@code int[]} in row-major order; strides count elements (not bytes) and may be 0
 * (a broadcast dim) or any positive value (a transposed or sliced view). View operations
 * ({@link #view}, {@link #transpose}, {@link #permute}, {@link #narrow}, {@link #expand}, ...) share
 * the storage and copy nothing; {@link #contiguous()} copies only when the layout needs it.
 *
 * <p>The methods here are the forward computations; they never record a graph. The autograd module
 * offers the same operations in differentiable form and uses the {@link #requiresGrad()},
 * {@link #grad()} and {@link #gradFn()} slots kept here.
 *
 * <p>Operations check their arguments first and throw {@link IllegalArgumentException} (or
 * {@link IndexOutOfBoundsException} for indices) naming the shapes or values at fault, before any
 * kernel runs.
 */
public final class Tensor {
    // not final only for replaceData (moving a leaf between devices in place); every other method keeps them
    private Storage storage;
    private int[] shape;
    private int[] strides;
    private int offset;

    // autograd slots (see dev.moe4j.autograd)
    private boolean requiresGrad;
    private Tensor grad;
    private GradFn gradFn;
    private boolean retainsGrad;

    /**
     * A view over {@code storage}. Checks that every element the view can address lies inside the
     * storage.
     */
    public Tensor(Storage storage, int[] shape, int[] strides, int offset) {
        if (shape.length != strides.length) {
            throw new IllegalArgumentException("shape " + Shape.str(shape) + " and strides " + Shape.str(strides) + " differ in rank");
        }
        long numel = Shape.numel(shape);
        if (numel > 0) {
            long lo = offset, hi = offset;
            for (int i = 0; i < shape.length; i++) {
                long span = (long) (shape[i] - 1) * strides[i];
                if (span < 0) lo += span; else hi += span;
            }
            if (lo < 0 || hi >= storage.size()) {
                throw new IllegalArgumentException("view shape " + Shape.str(shape) + " strides " + Shape.str(strides)
                        + " offset " + offset + " reaches outside a storage of " + storage.size() + " elements");
            }
        }
        this.storage = storage;
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
    }

    // ------------------------------------------------------------------ creation

    /** A new contiguous tensor of zeros. */
    public static Tensor zeros(DType dtype, int... shape) {
        return new Tensor(CpuStorage.allocate(dtype, Shape.numel(shape)), shape, Shape.contiguousStrides(shape), 0);
    }

    /** F32 zeros. */
    public static Tensor zeros(int... shape) { return zeros(DType.F32, shape); }

    /** A new tensor of ones. */
    public static Tensor ones(DType dtype, int... shape) { return full(dtype, 1.0, shape); }

    /** F32 ones. */
    public static Tensor ones(int... shape) { return ones(DType.F32, shape); }

    /** A new tensor filled with {@code value}. */
    public static Tensor full(DType dtype, double value, int... shape) {
        Tensor t = zeros(dtype, shape);
        if (value != 0) t.fill(value);
        return t;
    }

    /** A new tensor with the same shape, dtype and device as {@code like}, filled with zeros. */
    public static Tensor zerosLike(Tensor like) { return zeros(like.dtype(), like.device(), like.shape()); }

    /** A new tensor with the same shape, dtype and device as {@code like}, filled with ones. */
    public static Tensor onesLike(Tensor like) { return full(like.dtype(), like.device(), 1.0, like.shape()); }

    /** A new tensor with the same shape, dtype and device as {@code like}, filled with {@code value}. */
    public static Tensor fullLike(Tensor like, double value) { return full(like.dtype(), like.device(), value, like.shape()); }

    /** A new contiguous tensor of zeros on {@code device}. */
    public static Tensor zeros(DType dtype, Device device, int... shape) {
        return device.isCpu() ? zeros(dtype, shape) : CudaPointwise.zeros(dtype, device, shape);
    }

    /** A new tensor of ones on {@code device}. */
    public static Tensor ones(DType dtype, Device device, int... shape) { return full(dtype, device, 1.0, shape); }

    /** A new tensor filled with {@code value} on {@code device}. */
    public static Tensor full(DType dtype, Device device, double value, int... shape) {
        return device.isCpu() ? full(dtype, value, shape) : CudaPointwise.full(dtype, device, value, shape);
    }

    /** {@code [start, start+step, ...)} up to (excluding) {@code end}, as a 1-D tensor. */
    public static Tensor arange(DType dtype, double start, double end, double step) {
        if (step == 0 || Double.isNaN(step)) throw new IllegalArgumentException("arange step must be non-zero, got " + step);
        long n = (long) Math.ceil((end - start) / step);
        if (n < 0) n = 0;
        if (n > CpuStorage.MAX_SIZE) throw new IllegalArgumentException("arange(" + start + ", " + end + ", " + step + ") has too many elements");
        Tensor t = zeros(dtype, (int) n);
        CpuStorage s = (CpuStorage) t.storage;
        for (int i = 0; i < n; i++) s.setDouble(i, start + i * step);
        return t;
    }

    /** {@code [0, 1, ..., n-1]} as I64. */
    public static Tensor arange(int n) { return arange(DType.I64, 0, n, 1); }

    /** Uniform [0, 1) samples from {@code gen}. */
    public static Tensor rand(Generator gen, DType dtype, int... shape) {
        Tensor t = zeros(dtype, shape);
        CpuStorage s = (CpuStorage) t.storage;
        for (int i = 0; i < s.size(); i++) s.setDouble(i, gen.nextDouble());
        return t;
    }

    /** Standard normal samples from {@code gen}. */
    public static Tensor randn(Generator gen, DType dtype, int... shape) {
        Tensor t = zeros(dtype, shape);
        CpuStorage s = (CpuStorage) t.storage;
        for (int i = 0; i < s.size(); i++) s.setDouble(i, gen.nextGaussian());
        return t;
    }

    /** F32 tensor over a copy of {@code data} with the given shape. */
    public static Tensor of(float[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(CpuStorage.of(data.clone()), shape, Shape.contiguousStrides(shape), 0);
    }

    /** F64 tensor over a copy of {@code data} with the given shape. */
    public static Tensor of(double[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(CpuStorage.of(data.clone()), shape, Shape.contiguousStrides(shape), 0);
    }

    /** I32 tensor over a copy of {@code data}. */
    public static Tensor of(int[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(CpuStorage.of(data.clone()), shape, Shape.contiguousStrides(shape), 0);
    }

    /** I64 tensor over a copy of {@code data}. */
    public static Tensor of(long[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(CpuStorage.of(data.clone()), shape, Shape.contiguousStrides(shape), 0);
    }

    /** BOOL tensor over a copy of {@code data}. */
    public static Tensor of(boolean[] data, int... shape) {
        checkLength(data.length, shape);
        byte[] b = new byte[data.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (data[i] ? 1 : 0);
        return new Tensor(CpuStorage.ofBytes(DType.BOOL, b), shape, Shape.contiguousStrides(shape), 0);
    }

    /** 1-D F32 tensor of the given values. */
    public static Tensor vector(float... data) { return of(data, data.length); }

    /** A 0-dimensional tensor holding {@code value}. */
    public static Tensor scalar(DType dtype, double value) { return full(dtype, value); }

    private static void checkLength(int length, int[] shape) {
        long n = Shape.numel(shape);
        if (n != length) {
            throw new IllegalArgumentException("data of length " + length + " does not fill shape " + Shape.str(shape) + " (" + n + " elements)");
        }
    }

    // ------------------------------------------------------------------ metadata

    /** The storage this view reads. */
    public Storage storage() { return storage; }

    /** Element type. */
    public DType dtype() { return storage.dtype(); }

    /** Device of the storage. */
    public Device device() { return storage.device(); }

    /** A copy of the shape. */
    public int[] shape() { return shape.clone(); }

    /** Size of dim {@code d} (negative counts from the end). */
    public int size(int d) { return shape[Shape.dim(d, shape.length)]; }

    /** A copy of the strides, in elements. */
    public int[] strides() { return strides.clone(); }

    /** Stride of dim {@code d}, in elements. */
    public int stride(int d) { return strides[Shape.dim(d, shape.length)]; }

    /** Offset of element (0, ..., 0) in the storage. */
    public int offset() { return offset; }

    /** Number of dims. */
    public int rank() { return shape.length; }

    /** Number of elements. */
    public int numel() { return (int) Shape.numel(shape); }

    /** True when the elements lie in row-major order without gaps (dims of size 1 ignored). */
    public boolean isContiguous() {
        if (numel() == 0) return true;
        int expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    /** True when the shapes are equal. */
    public boolean sameShape(Tensor o) { return Arrays.equals(shape, o.shape); }

    /** The CPU storage, for kernels. @throws IllegalStateException when the tensor is on another device */
    public CpuStorage cpuStorage() {
        if (!(storage instanceof CpuStorage c)) throw new IllegalStateException("tensor is on " + device() + ", not the CPU");
        return c;
    }

    // ------------------------------------------------------------------ views

    /**
     * The same elements with another shape, sharing storage. One dim may be {@code -1} (inferred).
     *
     * @throws IllegalArgumentException when the element counts differ or the layout cannot be viewed
     *         (use {@link #reshape}, which copies then)
     */
    public Tensor view(int... newShape) {
        int[] ns = inferShape(newShape);
        int[] st = viewStrides(ns);
        if (st == null) {
            throw new IllegalArgumentException("cannot view shape " + Shape.str(shape) + " strides " + Shape.str(strides)
                    + " as " + Shape.str(ns) + " without a copy; call reshape()");
        }
        return new Tensor(storage, ns, st, offset);
    }

    /** Like {@link #view}, copying only when the layout cannot be viewed. */
    public Tensor reshape(int... newShape) {
        int[] ns = inferShape(newShape);
        int[] st = viewStrides(ns);
        if (st != null) return new Tensor(storage, ns, st, offset);
        return contiguous().view(ns);
    }

    /** All dims flattened into one. */
    public Tensor flatten() { return reshape(numel()); }

    private int[] inferShape(int[] newShape) {
        int infer = -1;
        long known = 1;
        for (int i = 0; i < newShape.length; i++) {
            if (newShape[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one dim may be -1 in " + Shape.str(newShape));
                infer = i;
            } else if (newShape[i] < 0) {
                throw new IllegalArgumentException("invalid dim " + newShape[i] + " in shape " + Shape.str(newShape));
            } else {
                known *= newShape[i];
            }
        }
        int[] ns = newShape.clone();
        long n = numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException("shape " + Shape.str(newShape) + " is invalid for " + n + " elements of shape " + Shape.str(shape));
            }
            ns[infer] = (int) (n / known);
        } else if (known != n) {
            throw new IllegalArgumentException("shape " + Shape.str(newShape) + " is invalid for " + n + " elements of shape " + Shape.str(shape));
        }
        return ns;
    }

    /** Strides for viewing this layout as {@code ns}, or null when a copy is needed. */
    private int[] viewStrides(int[] ns) {
        if (isContiguous()) return Shape.contiguousStrides(ns);
        // Match runs of old dims that are mutually contiguous against runs of new dims.
        int[] out = new int[ns.length];
        int oi = 0, ni = 0;
        int oldRank = shape.length;
        while (ni < ns.length || oi < oldRank) {
            // skip size-1 dims
            if (ni < ns.length && ns[ni] == 1) { out[ni] = 1; ni++; continue; }
            if (oi < oldRank && shape[oi] == 1) { oi++; continue; }
            if (ni >= ns.length || oi >= oldRank) return null;
            long oldSize = shape[oi];
            int chunkEnd = oi;
            long newSize = ns[ni];
            int nStart = ni;
            while (oldSize != newSize) {
                if (oldSize < newSize) {
                    chunkEnd++;
                    if (chunkEnd >= oldRank) return null;
                    if (shape[chunkEnd] == 1) continue;
                    // the old dims must be contiguous with each other to be merged
                    int prev = chunkEnd - 1;
                    while (shape[prev] == 1) prev--;
                    if (strides[prev] != strides[chunkEnd] * shape[chunkEnd]) return null;
                    oldSize *= shape[chunkEnd];
                } else {
                    ni++;
                    if (ni >= ns.length) return null;
                    newSize *= ns[ni];
                }
            }
            // check contiguity within the old chunk
            for (int k = oi; k < chunkEnd; k++) {
                if (shape[k] == 1) continue;
                int next = k + 1;
                while (next <= chunkEnd && shape[next] == 1) next++;
                if (next <= chunkEnd && strides[k] != strides[next] * shape[next]) return null;
            }
            int last = chunkEnd;
            while (last > oi && shape[last] == 1) last--;
            int st = strides[last];
            for (int k = ni; k >= nStart; k--) {
                out[k] = st;
                st *= ns[k];
            }
            ni++;
            oi = chunkEnd + 1;
        }
        return out;
    }

    /** Swaps two dims (a view). */
    public Tensor transpose(int d0, int d1) {
        int a = Shape.dim(d0, rank()), b = Shape.dim(d1, rank());
        int[] sh = shape.clone(), st = strides.clone();
        sh[a] = shape[b]; sh[b] = shape[a];
        st[a] = strides[b]; st[b] = strides[a];
        return new Tensor(storage, sh, st, offset);
    }

    /** Transpose of a 2-D tensor, or of the last two dims of a batched one (a view). */
    public Tensor mT() {
        if (rank() < 2) throw new IllegalArgumentException("mT needs rank >= 2, got shape " + Shape.str(shape));
        return transpose(-2, -1);
    }

    /** Reorders the dims: dim i of the result is dim {@code dims[i]} of this tensor (a view). */
    public Tensor permute(int... dims) {
        if (dims.length != rank()) {
            throw new IllegalArgumentException("permute " + Shape.str(dims) + " does not match rank " + rank() + " of shape " + Shape.str(shape));
        }
        boolean[] seen = new boolean[rank()];
        int[] sh = new int[rank()], st = new int[rank()];
        for (int i = 0; i < dims.length; i++) {
            int d = Shape.dim(dims[i], rank());
            if (seen[d]) throw new IllegalArgumentException("permute " + Shape.str(dims) + " repeats dim " + d);
            seen[d] = true;
            sh[i] = shape[d];
            st[i] = strides[d];
        }
        return new Tensor(storage, sh, st, offset);
    }

    /** Elements {@code start .. start+length-1} along {@code dim} (a view). */
    public Tensor narrow(int dim, int start, int length) {
        int d = Shape.dim(dim, rank());
        if (start < 0 || length < 0 || start + length > shape[d]) {
            throw new IndexOutOfBoundsException("narrow(dim " + dim + ", start " + start + ", length " + length + ") outside size " + shape[d] + " of shape " + Shape.str(shape));
        }
        int[] sh = shape.clone();
        sh[d] = length;
        return new Tensor(storage, sh, strides, length == 0 ? offset : offset + start * strides[d]);
    }

    /** Elements {@code start, start+step, ...} below {@code end} along {@code dim} (a view); step >= 1. */
    public Tensor slice(int dim, int start, int end, int step) {
        int d = Shape.dim(dim, rank());
        if (step < 1) throw new IllegalArgumentException("slice step must be >= 1, got " + step);
        int n = shape[d];
        int s = start < 0 ? start + n : start;
        int e = end < 0 ? end + n : Math.min(end, n);
        if (s < 0 || s > n || e < s) {
            throw new IndexOutOfBoundsException("slice(dim " + dim + ", " + start + ", " + end + ") outside size " + n + " of shape " + Shape.str(shape));
        }
        int[] sh = shape.clone(), st = strides.clone();
        sh[d] = (e - s + step - 1) / step;
        st[d] = strides[d] * step;
        return new Tensor(storage, sh, st, sh[d] == 0 ? offset : offset + s * strides[d]);
    }

    /** The sub-tensor at {@code index} along {@code dim}, that dim removed (a view). */
    public Tensor select(int dim, int index) {
        int d = Shape.dim(dim, rank());
        int i = index < 0 ? index + shape[d] : index;
        if (i < 0 || i >= shape[d]) {
            throw new IndexOutOfBoundsException("index " + index + " out of range for dim " + dim + " of size " + shape[d] + " in shape " + Shape.str(shape));
        }
        int[] sh = new int[rank() - 1], st = new int[rank() - 1];
        for (int k = 0, j = 0; k < rank(); k++) {
            if (k == d) continue;
            sh[j] = shape[k];
            st[j++] = strides[k];
        }
        return new Tensor(storage, sh, st, offset + i * strides[d]);
    }

    /**
     * Broadcasts to {@code newShape} (a view with stride 0 on stretched dims). New leading dims may be
     * added; {@code -1} keeps a dim.
     */
    public Tensor expand(int... newShape) {
        if (newShape.length < rank()) {
            throw new IllegalArgumentException("cannot expand shape " + Shape.str(shape) + " to fewer dims " + Shape.str(newShape));
        }
        int lead = newShape.length - rank();
        int[] sh = new int[newShape.length], st = new int[newShape.length];
        for (int i = 0; i < newShape.length; i++) {
            if (i < lead) {
                if (newShape[i] < 0) throw new IllegalArgumentException("cannot use -1 for a new leading dim in expand " + Shape.str(newShape));
                sh[i] = newShape[i];
                st[i] = 0;
                continue;
            }
            int old = shape[i - lead];
            int want = newShape[i] == -1 ? old : newShape[i];
            if (want == old) {
                sh[i] = old;
                st[i] = strides[i - lead];
            } else if (old == 1) {
                sh[i] = want;
                st[i] = 0;
            } else {
                throw new IllegalArgumentException("cannot expand shape " + Shape.str(shape) + " to " + Shape.str(newShape) + " (dim " + i + ": " + old + " vs " + want + ")");
            }
        }
        return new Tensor(storage, sh, st, offset);
    }

    /** Inserts a dim of size 1 at {@code dim} (a view; {@code dim} may be {@code rank()}). */
    public Tensor unsqueeze(int dim) {
        int d = Shape.dim(dim, rank() + 1);
        int[] sh = new int[rank() + 1], st = new int[rank() + 1];
        for (int i = 0, j = 0; i < sh.length; i++) {
            if (i == d) {
                sh[i] = 1;
                st[i] = d < rank() ? strides[d] * shape[d] : 1;
            } else {
                sh[i] = shape[j];
                st[i] = strides[j++];
            }
        }
        return new Tensor(storage, sh, st, offset);
    }

    /** Removes {@code dim} if its size is 1 (otherwise returns this view unchanged, as PyTorch does). */
    public Tensor squeeze(int dim) {
        int d = Shape.dim(dim, rank());
        if (shape[d] != 1) return this;
        int[] sh = new int[rank() - 1], st = new int[rank() - 1];
        for (int i = 0, j = 0; i < rank(); i++) {
            if (i == d) continue;
            sh[j] = shape[i];
            st[j++] = strides[i];
        }
        return new Tensor(storage, sh, st, offset);
    }

    /** Removes every dim of size 1. */
    public Tensor squeeze() {
        int n = 0;
        for (int s : shape) if (s != 1) n++;
        int[] sh = new int[n], st = new int[n];
        for (int i = 0, j = 0; i < rank(); i++) {
            if (shape[i] == 1) continue;
            sh[j] = shape[i];
            st[j++] = strides[i];
        }
        return new Tensor(storage, sh, st, offset);
    }

    /** This tensor if contiguous, else a contiguous copy. */
    public Tensor contiguous() {
        if (isContiguous()) return this;
        return copy();
    }

    /** A contiguous copy with its own storage (never shares), on this tensor's device. */
    public Tensor copy() {
        if (!(storage instanceof CpuStorage)) return CudaTensors.copy(this);
        Tensor out = zeros(dtype(), shape);
        StridedCopy.copy(cpuStorage().array(), offset, shape, strides, out.cpuStorage().array(), 0);
        return out;
    }

    // ------------------------------------------------------------------ element access

    private int storageIndex(int... idx) {
        if (idx.length != rank()) {
            throw new IllegalArgumentException("index " + Arrays.toString(idx) + " has " + idx.length + " dims, tensor has shape " + Shape.str(shape));
        }
        int p = offset;
        for (int i = 0; i < idx.length; i++) {
            int k = idx[i] < 0 ? idx[i] + shape[i] : idx[i];
            if (k < 0 || k >= shape[i]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(idx) + " out of range for shape " + Shape.str(shape));
            }
            p += k * strides[i];
        }
        return p;
    }

    /** The element at {@code idx} as a double. */
    public double getDouble(int... idx) { return cpuStorage().getDouble(storageIndex(idx)); }

    /** The element at {@code idx} as a long. */
    public long getLong(int... idx) { return cpuStorage().getLong(storageIndex(idx)); }

    /** Writes {@code value} at {@code idx} (an in-place write). */
    public void set(double value, int... idx) {
        cpuStorage().setDouble(storageIndex(idx), value);
        storage.bumpVersion();
    }

    /**
     * Makes this tensor a view of {@code source}'s data, keeping this object (what
     * {@code param.data = source} does in PyTorch): {@code Module.to(Device)} moves parameters this
     * way, so that optimizers and other holders of the parameter see the moved tensor. Only leaves
     * (tensors without a recorded gradient function) may be rebound; views taken of this tensor
     * before keep the old data. Not safe against a thread reading this tensor meanwhile.
     *
     * @param source [same shape], same dtype, any device
     * @throws IllegalArgumentException for a different shape or dtype, or when this tensor is the
     *         output of a recorded operation
     */
    public void replaceData(Tensor source) {
        if (source == null) throw new IllegalArgumentException("replaceData: the source tensor is null");
        if (!Arrays.equals(shape, source.shape) || dtype() != source.dtype()) {
            throw new IllegalArgumentException("replaceData: " + dtype() + " " + Shape.str(shape) + " cannot take the data of "
                    + source.dtype() + " " + Shape.str(source.shape));
        }
        if (gradFn != null) throw new IllegalArgumentException("replaceData: only a leaf tensor can be rebound, this one has a gradient function");
        this.storage = source.storage;
        this.shape = source.shape.clone();
        this.strides = source.strides.clone();
        this.offset = source.offset;
    }

    /** The single element of a one-element tensor. */
    public double item() {
        if (numel() != 1) throw new IllegalArgumentException("item() needs one element, shape is " + Shape.str(shape));
        if (!(storage instanceof CpuStorage)) return CudaPointwise.item(this);
        return cpuStorage().getDouble(offset);
    }

    /** The elements in row-major order as floats (a copy). */
    public float[] toFloatArray() {
        if (numel() == 0) return new float[0];      // an empty view may carry an offset past its storage
        Tensor c = cpu().to(DType.F32).contiguous();
        float[] a = c.cpuStorage().floats();
        return Arrays.copyOfRange(a, c.offset, c.offset + c.numel());
    }

    /** The elements in row-major order as doubles (a copy). */
    public double[] toDoubleArray() {
        if (numel() == 0) return new double[0];      // an empty view may carry an offset past its storage
        Tensor c = cpu().to(DType.F64).contiguous();
        double[] a = c.cpuStorage().doubles();
        return Arrays.copyOfRange(a, c.offset, c.offset + c.numel());
    }

    /** The elements in row-major order as longs (a copy). */
    public long[] toLongArray() {
        if (numel() == 0) return new long[0];      // an empty view may carry an offset past its storage
        Tensor c = cpu().to(DType.I64).contiguous();
        long[] a = c.cpuStorage().longs();
        return Arrays.copyOfRange(a, c.offset, c.offset + c.numel());
    }

    /** The elements in row-major order as ints (a copy). */
    public int[] toIntArray() {
        if (numel() == 0) return new int[0];      // an empty view may carry an offset past its storage
        Tensor c = cpu().to(DType.I32).contiguous();
        int[] a = c.cpuStorage().ints();
        return Arrays.copyOfRange(a, c.offset, c.offset + c.numel());
    }

    // ------------------------------------------------------------------ devices (dev.moe4j.tensor.cuda)

    /**
     * This tensor on {@code device} (this tensor itself when it is already there): a contiguous copy,
     * same dtype and shape. Transfers to and from CUDA devices go through
     * {@link dev.moe4j.tensor.cuda.CudaTensors}.
     *
     * @throws IllegalStateException naming the reason when {@code device} is a CUDA device and CUDA is unavailable
     */
    public Tensor to(Device device) {
        return device.equals(device()) ? this : CudaTensors.to(this, device);
    }

    /** This tensor on the CPU (itself when already there). */
    public Tensor cpu() { return to(Device.CPU); }

    // ------------------------------------------------------------------ casts and in-place writes

    /** This tensor converted to {@code dtype} (this tensor itself when it already has it). */
    public Tensor to(DType dtype) {
        if (dtype == dtype()) return this;
        if (!(storage instanceof CpuStorage)) return CudaPointwise.cast(this, dtype);
        Tensor src = contiguous();
        Tensor out = zeros(dtype, shape);
        CpuStorage s = src.cpuStorage(), d = out.cpuStorage();
        int n = numel();
        if (castArrays(dtype(), s, src.offset, dtype, d, n)) return out;
        boolean integral = !dtype().isFloatingPoint() && !dtype.isFloatingPoint();
        for (int i = 0; i < n; i++) {
            if (integral) d.setLong(i, s.getLong(src.offset + i));
            else d.setDouble(i, s.getDouble(src.offset + i));
        }
        return out;
    }

    /** Bulk casts between the float compute and storage types (same results as the element-wise path). */
    private static boolean castArrays(DType from, CpuStorage s, int off, DType to, CpuStorage d, int n) {
        if (from == DType.F32 && to == DType.BF16) {
            dev.moe4j.kernels.cpu.HalfFloat.floatToBf16(s.floats(), off, d.shorts(), 0, n);
        } else if (from == DType.BF16 && to == DType.F32) {
            dev.moe4j.kernels.cpu.HalfFloat.bf16ToFloat(s.shorts(), off, d.floats(), 0, n);
        } else if (from == DType.F32 && to == DType.F64) {
            float[] a = s.floats();
            double[] b = d.doubles();
            for (int i = 0; i < n; i++) b[i] = a[off + i];
        } else if (from == DType.F64 && to == DType.F32) {
            double[] a = s.doubles();
            float[] b = d.floats();
            for (int i = 0; i < n; i++) b[i] = (float) a[off + i];
        } else {
            return false;
        }
        return true;
    }

    /** Sets every element to {@code value} (in place). Returns this. */
    public Tensor fill(double value) {
        if (!(storage instanceof CpuStorage)) return CudaPointwise.fill(this, value);
        CpuStorage s = cpuStorage();
        forEachIndex((p) -> s.setDouble(p, value));
        storage.bumpVersion();
        return this;
    }

    /** Copies {@code src} (broadcast to this shape, converted to this dtype) into this view, in place. Returns this. */
    public Tensor copyFrom(Tensor src) {
        if (!device().isCpu() || !src.device().isCpu()) return CudaPointwise.copyInto(this, src);
        Tensor b = src.to(dtype()).expand(shape).contiguous();
        CpuStorage s = b.cpuStorage(), d = cpuStorage();
        int[] k = {b.offset};
        boolean integral = !dtype().isFloatingPoint();
        forEachIndex((p) -> {
            if (integral) d.setLong(p, s.getLong(k[0]++));
            else d.setDouble(p, s.getDouble(k[0]++));
        });
        storage.bumpVersion();
        return this;
    }

    /** Calls {@code f} with the storage index of each element, in row-major order. */
    public void forEachIndex(java.util.function.IntConsumer f) {
        int n = numel();
        if (n == 0) return;
        int r = rank();
        int[] idx = new int[r];
        int p = offset;
        for (int c = 0; c < n; c++) {
            f.accept(p);
            for (int k = r - 1; k >= 0; k--) {
                idx[k]++;
                p += strides[k];
                if (idx[k] < shape[k]) break;
                p -= strides[k] * shape[k];
                idx[k] = 0;
            }
        }
    }

    // ------------------------------------------------------------------ pointwise ops (dev.moe4j.tensor.ops.Pointwise)

    /** this + other, broadcasting. */
    public Tensor add(Tensor other) { return Pointwise.binary(Pointwise.Binary.ADD, this, other); }
    /** this - other, broadcasting. */
    public Tensor sub(Tensor other) { return Pointwise.binary(Pointwise.Binary.SUB, this, other); }
    /** this * other, broadcasting. */
    public Tensor mul(Tensor other) { return Pointwise.binary(Pointwise.Binary.MUL, this, other); }
    /** this / other, broadcasting. */
    public Tensor div(Tensor other) { return Pointwise.binary(Pointwise.Binary.DIV, this, other); }
    /** this ^ other, broadcasting. */
    public Tensor pow(Tensor other) { return Pointwise.binary(Pointwise.Binary.POW, this, other); }
    /** Elementwise maximum, broadcasting (NaN propagates). */
    public Tensor maximum(Tensor other) { return Pointwise.binary(Pointwise.Binary.MAXIMUM, this, other); }
    /** Elementwise minimum, broadcasting (NaN propagates). */
    public Tensor minimum(Tensor other) { return Pointwise.binary(Pointwise.Binary.MINIMUM, this, other); }

    /** this + s. */
    public Tensor add(double s) { return Pointwise.binaryScalar(Pointwise.Binary.ADD, this, s); }
    /** this - s. */
    public Tensor sub(double s) { return Pointwise.binaryScalar(Pointwise.Binary.SUB, this, s); }
    /** this * s. */
    public Tensor mul(double s) { return Pointwise.binaryScalar(Pointwise.Binary.MUL, this, s); }
    /** this / s. */
    public Tensor div(double s) { return Pointwise.binaryScalar(Pointwise.Binary.DIV, this, s); }
    /** this ^ s. */
    public Tensor pow(double s) { return Pointwise.binaryScalar(Pointwise.Binary.POW, this, s); }

    /** Comparisons, broadcasting; the result is BOOL. */
    public Tensor eq(Tensor other) { return Pointwise.compare(Pointwise.Compare.EQ, this, other); }
    /** this != other (BOOL). */
    public Tensor ne(Tensor other) { return Pointwise.compare(Pointwise.Compare.NE, this, other); }
    /** this &lt; other (BOOL). */
    public Tensor lt(Tensor other) { return Pointwise.compare(Pointwise.Compare.LT, this, other); }
    /** this &lt;= other (BOOL). */
    public Tensor le(Tensor other) { return Pointwise.compare(Pointwise.Compare.LE, this, other); }
    /** this &gt; other (BOOL). */
    public Tensor gt(Tensor other) { return Pointwise.compare(Pointwise.Compare.GT, this, other); }
    /** this &gt;= other (BOOL). */
    public Tensor ge(Tensor other) { return Pointwise.compare(Pointwise.Compare.GE, this, other); }

    /** -this. */
    public Tensor neg() { return Pointwise.unary(Pointwise.Unary.NEG, this); }
    /** |this|. */
    public Tensor abs() { return Pointwise.unary(Pointwise.Unary.ABS, this); }
    /** e^this. */
    public Tensor exp() { return Pointwise.unary(Pointwise.Unary.EXP, this); }
    /** Natural log. */
    public Tensor log() { return Pointwise.unary(Pointwise.Unary.LOG, this); }
    /** Square root. */
    public Tensor sqrt() { return Pointwise.unary(Pointwise.Unary.SQRT, this); }
    /** 1 / sqrt(this). */
    public Tensor rsqrt() { return Pointwise.unary(Pointwise.Unary.RSQRT, this); }
    /** max(this, 0). */
    public Tensor relu() { return Pointwise.unary(Pointwise.Unary.RELU, this); }
    /** GELU, exact form x * Phi(x) with the erf. */
    public Tensor gelu() { return Pointwise.unary(Pointwise.Unary.GELU, this); }
    /** GELU, tanh approximation. */
    public Tensor geluTanh() { return Pointwise.unary(Pointwise.Unary.GELU_TANH, this); }
    /** x * sigmoid(x). */
    public Tensor silu() { return Pointwise.unary(Pointwise.Unary.SILU, this); }
    /** 1 / (1 + e^-x). */
    public Tensor sigmoid() { return Pointwise.unary(Pointwise.Unary.SIGMOID, this); }
    /** Hyperbolic tangent. */
    public Tensor tanh() { return Pointwise.unary(Pointwise.Unary.TANH, this); }

    /** Elements where {@code mask} (BOOL, broadcast to this shape) is true are replaced by {@code value}; a new tensor. */
    public Tensor maskedFill(Tensor mask, double value) { return Pointwise.maskedFill(this, mask, value); }

    /** {@code cond ? a : b}, elementwise with broadcasting; {@code cond} is BOOL. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) { return Pointwise.where(cond, a, b); }

    /** this += other (broadcast into this shape), in place. Returns this. */
    public Tensor addInPlace(Tensor other) { return Pointwise.addInPlace(this, other, 1.0); }

    /** this += alpha * other, in place. Returns this. */
    public Tensor addInPlace(Tensor other, double alpha) { return Pointwise.addInPlace(this, other, alpha); }

    /** this *= s, in place. Returns this. */
    public Tensor mulInPlace(double s) { return Pointwise.mulInPlace(this, s); }

    // ------------------------------------------------------------------ reductions (dev.moe4j.tensor.ops.Reductions)

    /** Sum of all elements (0-dim). */
    public Tensor sum() { return Reductions.sum(this, null, false); }
    /** Sum over {@code dims}. */
    public Tensor sum(int[] dims, boolean keepDim) { return Reductions.sum(this, dims, keepDim); }
    /** Sum over one dim. */
    public Tensor sum(int dim, boolean keepDim) { return Reductions.sum(this, new int[] {dim}, keepDim); }
    /** Mean of all elements (0-dim). */
    public Tensor mean() { return Reductions.mean(this, null, false); }
    /** Mean over {@code dims}. */
    public Tensor mean(int[] dims, boolean keepDim) { return Reductions.mean(this, dims, keepDim); }
    /** Mean over one dim. */
    public Tensor mean(int dim, boolean keepDim) { return Reductions.mean(this, new int[] {dim}, keepDim); }
    /** Largest element over one dim. */
    public Tensor max(int dim, boolean keepDim) { return Reductions.max(this, dim, keepDim); }
    /** Largest element overall (0-dim). */
    public Tensor max() { return Reductions.max(this.flatten(), 0, false); }
    /** Smallest element over one dim. */
    public Tensor min(int dim, boolean keepDim) { return Reductions.min(this, dim, keepDim); }
    /** Smallest element overall (0-dim). */
    public Tensor min() { return Reductions.min(this.flatten(), 0, false); }
    /** Index (I64) of the largest element over one dim; ties: the lowest index. */
    public Tensor argmax(int dim, boolean keepDim) { return Reductions.argmax(this, dim, keepDim); }
    /** Index (I64) of the smallest element over one dim; ties: the lowest index. */
    public Tensor argmin(int dim, boolean keepDim) { return Reductions.argmin(this, dim, keepDim); }
    /** log(sum(exp(x))) over one dim, computed stably. */
    public Tensor logsumexp(int dim, boolean keepDim) { return Reductions.logsumexp(this, dim, keepDim); }
    /** Variance over {@code dims} with {@code correction} (1 = unbiased, as PyTorch's default). */
    public Tensor var(int[] dims, int correction, boolean keepDim) { return Reductions.var(this, dims, correction, keepDim); }
    /** Softmax over {@code dim} (max subtracted first). */
    public Tensor softmax(int dim) { return Reductions.softmax(this, dim); }
    /** log(softmax) over {@code dim}, computed as x - logsumexp(x). */
    public Tensor logSoftmax(int dim) { return Reductions.logSoftmax(this, dim); }

    // ------------------------------------------------------------------ linear algebra (dev.moe4j.tensor.ops.LinAlg)

    /**
     * Matrix product: [m, k] x [k, n] -> [m, n]; batched [..., m, k] x [..., k, n] with broadcast batch
     * dims; 1-D operands as in PyTorch. Transposed views are read in place, without copies.
     */
    public Tensor matmul(Tensor other) { return LinAlg.matmul(this, other); }

    // ------------------------------------------------------------------ indexing (dev.moe4j.tensor.ops.Indexing)

    /** Rows (along {@code dim}) picked by the 1-D integer {@code index}. */
    public Tensor indexSelect(int dim, Tensor index) { return Indexing.indexSelect(this, dim, index); }
    /** out[i][j] = this[index[i][j]][j] style gather along {@code dim}. */
    public Tensor gather(int dim, Tensor index) { return Indexing.gather(this, dim, index); }
    /** A copy of this with {@code src} added at {@code index} along {@code dim} (scatter_add). */
    public Tensor scatterAdd(int dim, Tensor index, Tensor src) { return Indexing.scatterAdd(this, dim, index, src); }
    /** A copy of this with the slices of {@code src} added at the 1-D {@code index} along {@code dim} (index_add). */
    public Tensor indexAdd(int dim, Tensor index, Tensor src) { return Indexing.indexAdd(this, dim, index, src); }
    /** The {@code k} largest (or smallest) along {@code dim}, sorted; ties: the lower index first. */
    public TopK topk(int k, int dim, boolean largest) { return Indexing.topk(this, k, dim, largest); }
    /** Stable argsort (I64) along {@code dim}. */
    public Tensor argsort(int dim, boolean descending) { return Indexing.argsort(this, dim, descending); }
    /** Inclusive prefix sum along {@code dim}. */
    public Tensor cumsum(int dim) { return Indexing.cumsum(this, dim); }
    /** Counts of each value of a 1-D non-negative integer tensor; length max(minLength, max+1). I64. */
    public Tensor bincount(int minLength) { return Indexing.bincount(this, minLength); }
    /** Concatenation along {@code dim}. */
    public static Tensor cat(List<Tensor> tensors, int dim) { return Indexing.cat(tensors, dim); }
    /** Stack along a new dim {@code dim}. */
    public static Tensor stack(List<Tensor> tensors, int dim) { return Indexing.stack(tensors, dim); }

    // ------------------------------------------------------------------ autograd slots

    /** Whether gradients flow to this tensor. */
    public boolean requiresGrad() { return requiresGrad; }

    /**
     * Marks this tensor as needing a gradient. Only floating-point tensors can.
     *
     * @throws IllegalArgumentException for an integer or BOOL tensor
     */
    public Tensor setRequiresGrad(boolean flag) {
        if (flag && !dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("only floating-point tensors can require gradients, this one is " + dtype());
        }
        this.requiresGrad = flag;
        return this;
    }

    /** The accumulated gradient, or null. */
    public Tensor grad() { return grad; }

    /** Sets (or clears, with null) the gradient. */
    public void setGrad(Tensor g) { this.grad = g; }

    /** The node that produced this tensor, or null for a leaf. */
    public GradFn gradFn() { return gradFn; }

    /** Records the node that produced this tensor (used by the autograd module). */
    public void setGradFn(GradFn fn) { this.gradFn = fn; }

    /** True for a tensor made by the user rather than by a recorded op. */
    public boolean isLeaf() { return gradFn == null; }

    /** Asks backward to keep this non-leaf tensor's gradient. */
    public Tensor retainGrad() { this.retainsGrad = true; return this; }

    /** Whether backward keeps this tensor's gradient. */
    public boolean retainsGrad() { return retainsGrad || (isLeaf() && requiresGrad); }

    /** A view sharing storage, cut off from the graph. */
    public Tensor detach() { return new Tensor(storage, shape, strides, offset); }

    // ------------------------------------------------------------------ printing

    /** Shape, dtype, device and, for up to 64 elements, the values. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Tensor(shape=").append(Shape.str(shape)).append(", dtype=").append(dtype());
        if (!device().isCpu()) sb.append(", device=").append(device());
        if (requiresGrad) sb.append(", requiresGrad");
        if (storage instanceof CpuStorage && numel() <= 64) {
            sb.append(", values=");
            appendValues(sb, 0, offset);
        }
        return sb.append(')').toString();
    }

    private void appendValues(StringBuilder sb, int dim, int p) {
        CpuStorage s = (CpuStorage) storage;
        if (dim == rank()) {
            if (dtype().isFloatingPoint()) sb.append(String.format("%.4g", s.getDouble(p)));
            else if (dtype() == DType.BOOL) sb.append(s.getLong(p) != 0);
            else sb.append(s.getLong(p));
            return;
        }
        sb.append('[');
        for (int i = 0; i < shape[dim]; i++) {
            if (i > 0) sb.append(", ");
            appendValues(sb, dim + 1, p + i * strides[dim]);
        }
        sb.append(']');
    }
}
