package dev.moe4j.moe;

import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.Plans;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/** Helpers shared by the tests of the routing methods. */
final class MethodChecks {
    private MethodChecks() {}

    /** A gradient check that must pass and compare at least one element. */
    static void gradCheck(Function<Tensor[], Tensor> f, Tensor... inputs) {
        GradCheck.Result r = GradCheck.check(f, inputs);
        assertThat(r.passed()).as(r.worst() + " (max abs error " + r.maxAbsError() + ")").isTrue();
        assertThat(r.checked()).isPositive();
    }

    /** x followed by every parameter of the module. */
    static Tensor[] withParameters(Tensor x, Module m) {
        List<Tensor> in = new ArrayList<>(List.of(x));
        in.addAll(m.parameters());
        return in.toArray(new Tensor[0]);
    }

    /** A routing from fixed ids (weights 1/k, no logits), for the analysis tests. */
    static Routing routing(int[] ids, int T, int k, int E) {
        RoutingPlan plan = Plans.build(ids, null, null, T, k, E, Capacity.unlimited());
        double[] w = new double[T * k];
        java.util.Arrays.fill(w, 1.0 / k);
        return new Routing("fixed", plan, ids, null, Tensor.of(w, T, k), null, null, null, 0);
    }

    /** SiLU. */
    static double silu(double v) { return v / (1 + Math.exp(-v)); }
}
