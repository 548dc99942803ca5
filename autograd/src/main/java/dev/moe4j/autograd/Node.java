package dev.moe4j.autograd;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.GradFn;
import dev.moe4j.tensor.Tensor;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One recorded call of a {@link Function}: the graph node stored on its output
 * ({@link Tensor#gradFn()}).
 *
 * <p>For each input it keeps an edge: the node that produced the input, or the input itself when it
 * is a leaf that requires a gradient, or nothing when no gradient flows there. The output is held
 * weakly, only to hand it its gradient when it asked for one with {@link Tensor#retainGrad()}; the
 * graph thus keeps alive what backward needs (the saved tensors) and nothing more.
 */
public final class Node implements GradFn {
    final Function function;
    final Context ctx;
    /** Per input: the producing node, or null. */
    final Node[] nextNodes;
    /** Per input: the leaf tensor to accumulate into, or null. */
    final Tensor[] leaves;
    final WeakReference<Tensor> output;
    final int[] outputShape;
    final DType outputDType;

    Node(Function function, Context ctx, Node[] nextNodes, Tensor[] leaves, Tensor output) {
        this.function = function;
        this.ctx = ctx;
        this.nextNodes = nextNodes;
        this.leaves = leaves;
        this.output = new WeakReference<>(output);
        this.outputShape = output.shape();
        this.outputDType = output.dtype();
    }

    @Override
    public String name() { return function.name(); }

    /** The op this node recorded. */
    public Function function() { return function; }

    /** The nodes that produced this node's inputs (inputs without a producer are left out). */
    public List<Node> nextNodes() {
        List<Node> out = new ArrayList<>();
        for (Node n : nextNodes) if (n != null) out.add(n);
        return Collections.unmodifiableList(out);
    }

    /** The leaf tensors this node passes gradients to. */
    public List<Tensor> leafInputs() {
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : leaves) if (t != null) out.add(t);
        return Collections.unmodifiableList(out);
    }

    /** True once a backward that did not keep the graph ran through this node. */
    public boolean isReleased() { return ctx.isReleased(); }

    @Override
    public String toString() { return name() + "Backward"; }
}
