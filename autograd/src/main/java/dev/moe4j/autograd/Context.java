package dev.moe4j.autograd;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * What one call of a {@link Function} keeps between its forward and its backward: which inputs
 * need a gradient, the shapes and dtypes of the inputs, and the tensors saved for backward.
 *
 * <p>Saved tensors carry the version of their storage at the time they were saved. Reading one back
 * with {@link #saved(int)} after it was changed in place (through any view of the same storage)
 * throws {@link IllegalStateException}: the gradient would silently be wrong otherwise.
 *
 * <p>After a backward that does not keep the graph, the context is released and its saved tensors
 * are dropped.
 */
public final class Context {
    private final String opName;
    private final boolean[] needsGrad;
    private final int[][] inputShapes;
    private final DType[] inputDTypes;
    private Tensor[] saved;
    private int[] savedVersions;
    private boolean released;

    Context(String opName, Tensor[] inputs, boolean[] needsGrad) {
        this.opName = opName;
        this.needsGrad = needsGrad;
        this.inputShapes = new int[inputs.length][];
        this.inputDTypes = new DType[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null) continue;
            inputShapes[i] = inputs[i].shape();
            inputDTypes[i] = inputs[i].dtype();
        }
    }

    /** Number of inputs of the call. */
    public int numInputs() { return needsGrad.length; }

    /** True when backward must produce a gradient for input {@code i}. */
    public boolean needsInputGrad(int i) { return needsGrad[i]; }

    /** True when at least one input needs a gradient. */
    public boolean needsAnyInputGrad() {
        for (boolean b : needsGrad) if (b) return true;
        return false;
    }

    /** The shape of input {@code i} at the time of the call (a copy). */
    public int[] inputShape(int i) { return inputShapes[i].clone(); }

    /** The dtype of input {@code i}. */
    public DType inputDType(int i) { return inputDTypes[i]; }

    /**
     * Keeps {@code tensors} (entries may be null) for backward, replacing what was saved before, and
     * records their storage versions. Does nothing when no input needs a gradient.
     */
    public void save(Tensor... tensors) {
        if (!needsAnyInputGrad()) return;
        saved = tensors.clone();
        savedVersions = new int[tensors.length];
        for (int i = 0; i < tensors.length; i++) {
            if (tensors[i] != null) savedVersions[i] = tensors[i].storage().version();
        }
    }

    /**
     * Saved tensor {@code i}.
     *
     * @throws IllegalStateException when the graph was released by an earlier backward, or when the
     *         tensor was modified in place after it was saved
     */
    public Tensor saved(int i) {
        if (released) {
            throw new IllegalStateException("the saved tensors of " + opName + " were freed by an earlier backward;"
                    + " call backward with retainGraph = true to run it through the graph again");
        }
        if (saved == null || i < 0 || i >= saved.length) {
            throw new IllegalStateException(opName + " asked for saved tensor " + i + " but saved " + (saved == null ? 0 : saved.length));
        }
        Tensor t = saved[i];
        if (t != null && t.storage().version() != savedVersions[i]) {
            throw new IllegalStateException("a tensor of shape " + Shape.str(t.shape()) + " that " + opName
                    + " needs for its gradient was modified in place after it was saved (version "
                    + savedVersions[i] + ", now " + t.storage().version() + "); compute the gradient before changing it,"
                    + " or change a copy (clone) instead");
        }
        return t;
    }

    /** True once the saved tensors were dropped by a backward that did not keep the graph. */
    boolean isReleased() { return released; }

    /** Drops the saved tensors. */
    void release() {
        released = true;
        saved = null;
        savedVersions = null;
    }
}
