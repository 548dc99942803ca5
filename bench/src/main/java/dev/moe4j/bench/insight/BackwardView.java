package dev.moe4j.bench.insight;

import java.util.Collections;
import java.util.List;

/**
 * Stage 6, the backward pass stage by stage, in the order it runs (the reverse of the forward):
 * which gradient enters each stage, which kernel turns it into which gradients, and their norms.
 * The gradient of the input x arrives by two (or three) paths, summed at the end: through
 * permute (the experts' path), through the router's logits (the gate weights' path, plus the
 * balance losses), and through a shared expert when there is one.
 */
public final class BackwardView {
    /**
     * One backward stage.
     *
     * @param stage    the forward stage it reverses
     * @param kernel   the kernel(s) that compute it
     * @param gradIn   the gradient that enters, with its shape
     * @param gradsOut the gradients that leave, with shapes and norms
     * @param nanos    wall-clock nanoseconds
     */
    public record Step(String stage, String kernel, String gradIn, String gradsOut, long nanos) {}

    private final List<Step> steps;
    private final String summary;

    /**
     * @param steps   the stages in the order they ran
     * @param summary a closing line (how the input gradient is assembled)
     */
    public BackwardView(List<Step> steps, String summary) {
        this.steps = List.copyOf(steps);
        this.summary = summary;
    }

    /** The stages in the order they ran. */
    public List<Step> steps() { return Collections.unmodifiableList(steps); }

    /** The stage as a table. */
    public TextTable table() {
        TextTable t = new TextTable("#", "stage", "kernel", "gradient in", "gradients out (|norm|)", "ms");
        t.title("6. backward, stage by stage (reverse order): each kernel's backward turns the gradient of its output into gradients of its inputs");
        int i = 1;
        for (Step s : steps) t.row(i++, s.stage(), s.kernel(), s.gradIn(), s.gradsOut(), Fmt.millis(s.nanos()));
        if (summary != null) t.note(summary);
        return t;
    }

    @Override
    public String toString() { return table().toString(); }
}
