package dev.moe4j.moe;

import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.Plans;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/** Random tensors and plans for the tests. */
final class TestData {
    private TestData() {}

    /** Normal values of the given scale as an F64 tensor that requires a gradient. */
    static Tensor param(Generator g, double scale, int... shape) {
        return randn(g, DType.F64, scale, shape).setRequiresGrad(true);
    }

    static Tensor randn(Generator g, DType dtype, double scale, int... shape) {
        Tensor t = Tensor.randn(g, DType.F64, shape);
        double[] a = t.toDoubleArray();
        for (int i = 0; i < a.length; i++) a[i] *= scale;
        return Tensor.of(a, shape).to(dtype).copy();
    }

    /** Random expert ids [T * k], distinct within a token. */
    static int[] ids(Generator g, int T, int k, int E) {
        int[] ids = new int[T * k];
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < k; j++) {
                int e;
                boolean again;
                do {
                    e = g.nextInt(E);
                    again = false;
                    for (int i = 0; i < j; i++) again |= ids[t * k + i] == e;
                } while (again);
                ids[t * k + j] = e;
            }
        }
        return ids;
    }

    /** A plan over random ids with a capacity that drops some pairs and leaves expert {@code E - 1} empty. */
    static RoutingPlan planWithDrops(Generator g, int T, int k, int E, int capacity) {
        int[] ids = ids(g, T, k, E - 1);
        return Plans.build(ids, null, null, T, k, E, Capacity.fixed(capacity, DropPolicy.BY_POSITION, 0));
    }
}
