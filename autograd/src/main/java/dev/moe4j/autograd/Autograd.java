package dev.moe4j.autograd;

import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The reverse-mode engine: records calls of {@link Function}s on a dynamic graph (a tape) and runs
 * them backwards.
 *
 * <h2>Recording</h2>
 * A call is recorded when recording is on ({@link GradMode}) and at least one input requires a
 * gradient. Its output then requires a gradient and holds a {@link Node} with edges to the nodes
 * that produced the inputs, or to the inputs themselves when they are leaves.
 *
 * <h2>Backward</h2>
 * {@link #backward(Tensor, Tensor, boolean)} orders the nodes reachable from the root in reverse
 * topological order (an iterative depth-first search, so deep graphs do not overflow the stack),
 * then visits each node once: the gradients flowing into a node from all its consumers are summed
 * first, then its function's backward turns them into gradients of its inputs. Leaves (and tensors
 * that asked with {@link Tensor#retainGrad()}) accumulate their gradient into {@link Tensor#grad()}:
 * a new owned tensor the first time, a sum afterwards. Gradients of a broadcast input are reduced
 * to its shape by the function's backward. Unless the graph is kept, each node's saved tensors are
 * dropped once it has run, and a second backward through it throws.
 */
public final class Autograd {
    private Autograd() {}

    // ------------------------------------------------------------------ recording

    static Tensor record(Function fn, Tensor[] inputs) {
        Device device = null;
        boolean any = false;
        boolean recording = GradMode.isEnabled();
        boolean[] needs = new boolean[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            Tensor t = inputs[i];
            if (t == null) continue;
            if (device == null) device = t.device();
            else if (!device.equals(t.device())) {
                throw new IllegalArgumentException(fn.name() + ": inputs are on different devices (" + device + " and "
                        + t.device() + " at input " + i + "); move them to one device first");
            }
            needs[i] = recording && t.requiresGrad();
            any |= needs[i];
        }
        Context ctx = new Context(fn.name(), inputs, needs);
        Tensor out;
        boolean previous = GradMode.set(false);
        try {
            out = fn.forward(ctx, inputs);
        } finally {
            GradMode.set(previous);
        }
        if (out == null) throw new IllegalStateException(fn.name() + ".forward returned null");
        if (!any) {
            return out.requiresGrad() || out.gradFn() != null || isInput(out, inputs) ? alias(out) : out;
        }
        if (!out.dtype().isFloatingPoint()) {
            throw new IllegalStateException(fn.name() + " produced a " + out.dtype() + " output from inputs that require"
                    + " gradients; integer outputs are not differentiable");
        }
        if (out.gradFn() != null || out.requiresGrad() || isInput(out, inputs)) out = alias(out);
        Node[] next = new Node[inputs.length];
        Tensor[] leaves = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            if (!needs[i]) continue;
            Tensor t = inputs[i];
            if (t.gradFn() instanceof Node n) next[i] = n;
            else leaves[i] = t;
        }
        Node node = new Node(fn, ctx, next, leaves, out);
        out.setRequiresGrad(true);
        out.setGradFn(node);
        return out;
    }

    private static boolean isInput(Tensor out, Tensor[] inputs) {
        for (Tensor t : inputs) if (t == out) return true;
        return false;
    }

    /** A new tensor object over the same elements, without autograd state. */
    static Tensor alias(Tensor t) {
        return new Tensor(t.storage(), t.shape(), t.strides(), t.offset());
    }

    // ------------------------------------------------------------------ backward

    /**
     * Backward from a one-element tensor (a loss) with upstream gradient 1; frees the graph.
     *
     * @throws IllegalArgumentException when {@code root} has more than one element or does not
     *         require a gradient
     */
    public static void backward(Tensor root) { backward(root, null, false); }

    /** Backward with the upstream gradient {@code grad} (of root's shape); frees the graph. */
    public static void backward(Tensor root, Tensor grad) { backward(root, grad, false); }

    /**
     * Accumulates d(root)/d(leaf), contracted with {@code grad}, into the {@link Tensor#grad()} of
     * every leaf that requires a gradient and of every tensor that asked with
     * {@link Tensor#retainGrad()}.
     *
     * @param root        the tensor to differentiate
     * @param grad        dL/d(root), of root's shape; null means 1 and is allowed for a one-element root
     * @param retainGraph keep the saved tensors so that backward can run through the graph again
     * @throws IllegalArgumentException when root does not require a gradient, when grad is null for a
     *         root of more than one element, or when grad's shape, dtype or device do not fit root
     * @throws IllegalStateException when a tensor saved for backward was changed in place since, or
     *         when the graph was freed by an earlier backward
     */
    public static void backward(Tensor root, Tensor grad, boolean retainGraph) {
        execute(root, grad, retainGraph, null);
    }

    /**
     * Runs backward from root. With {@code capture} null, gradients accumulate into the leaves and
     * retained tensors; otherwise only into the entries of capture whose keys are the wanted tensors.
     */
    private static void execute(Tensor root, Tensor grad, boolean retainGraph, Map<Tensor, Tensor> capture) {
        if (!root.requiresGrad()) {
            throw new IllegalArgumentException("backward: the tensor of shape " + Shape.str(root.shape())
                    + " does not require a gradient and was not computed from one that does");
        }
        if (grad == null) {
            if (root.numel() != 1) {
                throw new IllegalArgumentException("backward: an upstream gradient is needed for a tensor of shape "
                        + Shape.str(root.shape()) + "; only a one-element tensor gets the implicit gradient 1");
            }
            grad = Tensor.ones(root.dtype(), root.device(), root.shape());
        } else {
            if (!grad.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException("backward: the upstream gradient must be floating point, got " + grad.dtype());
            }
            if (!grad.sameShape(root)) {
                throw new IllegalArgumentException("backward: upstream gradient of shape " + Shape.str(grad.shape())
                        + " does not match the tensor's shape " + Shape.str(root.shape()));
            }
            if (!grad.device().equals(root.device())) {
                throw new IllegalArgumentException("backward: upstream gradient on " + grad.device() + ", tensor on " + root.device());
            }
            grad = grad.to(root.dtype());
        }
        boolean previous = GradMode.set(false);
        try {
            if (!(root.gradFn() instanceof Node rootNode)) {
                deliver(root, grad, capture);
                return;
            }
            run(rootNode, grad, retainGraph, capture);
        } finally {
            GradMode.set(previous);
        }
    }

    private static void run(Node rootNode, Tensor grad, boolean retainGraph, Map<Tensor, Tensor> capture) {
        List<Node> order = reverseTopologicalOrder(rootNode);
        Map<Node, Tensor> pending = new IdentityHashMap<>();
        pending.put(rootNode, grad);
        for (Node node : order) {
            Tensor g = pending.remove(node);
            if (g == null) continue;
            if (node.ctx.isReleased()) {
                throw new IllegalStateException("backward through " + node.name() + " a second time: its saved tensors were"
                        + " freed by the first backward; call backward with retainGraph = true the first time");
            }
            Tensor out = node.output.get();
            if (out != null && (capture != null ? capture.containsKey(out) : out.retainsGrad())) deliver(out, g, capture);
            Tensor[] grads = node.function.backward(node.ctx, g);
            if (grads == null || grads.length != node.nextNodes.length) {
                throw new IllegalStateException(node.name() + ".backward returned " + (grads == null ? "null" : grads.length + " gradients")
                        + " for " + node.nextNodes.length + " inputs");
            }
            for (int i = 0; i < grads.length; i++) {
                Tensor gi = grads[i];
                if (gi == null) continue;
                Node next = node.nextNodes[i];
                Tensor leaf = node.leaves[i];
                if (next == null && leaf == null) continue;
                int[] want = node.ctx.inputShape(i);
                if (!Arrays.equals(gi.shape(), want)) {
                    throw new IllegalStateException(node.name() + ".backward returned a gradient of shape " + Shape.str(gi.shape())
                            + " for input " + i + " of shape " + Shape.str(want));
                }
                if (gi.dtype() != node.ctx.inputDType(i)) gi = gi.to(node.ctx.inputDType(i));
                if (next != null) pending.merge(next, gi, Tensor::add);
                else deliver(leaf, gi, capture);
            }
            if (!retainGraph) node.ctx.release();
        }
    }

    private static void deliver(Tensor t, Tensor g, Map<Tensor, Tensor> capture) {
        if (capture == null) {
            accumulate(t, g);
        } else if (capture.containsKey(t)) {
            Tensor old = capture.get(t);
            capture.put(t, old == null ? g : old.add(g));
        }
    }

    /** Nodes reachable from {@code root}, each after every node that consumes its output. */
    private static List<Node> reverseTopologicalOrder(Node root) {
        List<Node> postOrder = new ArrayList<>();
        Set<Node> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Node> nodes = new ArrayDeque<>();
        ArrayDeque<Integer> cursor = new ArrayDeque<>();
        nodes.push(root);
        cursor.push(0);
        seen.add(root);
        while (!nodes.isEmpty()) {
            Node n = nodes.peek();
            int i = cursor.pop();
            while (i < n.nextNodes.length && (n.nextNodes[i] == null || seen.contains(n.nextNodes[i]))) i++;
            if (i == n.nextNodes.length) {
                nodes.pop();
                postOrder.add(n);
            } else {
                cursor.push(i + 1);
                Node child = n.nextNodes[i];
                seen.add(child);
                nodes.push(child);
                cursor.push(0);
            }
        }
        Collections.reverse(postOrder);
        return postOrder;
    }

    /** t.grad += g, the first time as an owned contiguous copy. */
    private static void accumulate(Tensor t, Tensor g) {
        if (g.dtype() != t.dtype()) g = g.to(t.dtype());
        Tensor old = t.grad();
        if (old == null) t.setGrad(g.copy());
        else t.setGrad(old.add(g));
    }

    // ------------------------------------------------------------------ convenience

    /**
     * The gradients of {@code output} with respect to {@code inputs} (leaves or not), without touching
     * any {@link Tensor#grad()}: like {@code torch.autograd.grad}. Inputs that {@code output} does not
     * depend on get a zero gradient.
     *
     * @param output      the tensor to differentiate
     * @param gradOutput  dL/d(output), or null for a one-element output
     * @param retainGraph keep the graph for another backward
     * @param inputs      tensors that require gradients
     * @return one gradient per input, of its shape
     */
    public static Tensor[] grad(Tensor output, Tensor gradOutput, boolean retainGraph, Tensor... inputs) {
        Map<Tensor, Tensor> capture = new IdentityHashMap<>();
        for (int i = 0; i < inputs.length; i++) {
            if (!inputs[i].requiresGrad()) {
                throw new IllegalArgumentException("grad: input " + i + " of shape " + Shape.str(inputs[i].shape()) + " does not require a gradient");
            }
            capture.put(inputs[i], null);
        }
        execute(output, gradOutput, retainGraph, capture);
        Tensor[] out = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            Tensor g = capture.get(inputs[i]);
            out[i] = g != null ? g.to(inputs[i].dtype()).copy() : Tensor.zerosLike(inputs[i]).to(inputs[i].device());
        }
        return out;
    }
}
