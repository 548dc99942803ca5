package dev.moe4j.autograd;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Storage;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class EngineTest {
    private final Generator gen = new Generator(7);

    private static void assertClose(Tensor got, double[] want, double tol) {
        double[] g = got.toDoubleArray();
        assertThat(g).hasSize(want.length);
        for (int i = 0; i < g.length; i++) assertThat(g[i]).as("element %d", i).isCloseTo(want[i], within(tol));
    }

    @Test
    void tensorUsedTwiceSumsBothPaths() {
        Tensor x = Tensors.leaf(gen, 5);
        Tensor y = F.sum(F.add(F.mul(x, x), x));   // sum(x^2 + x): dy/dx = 2x + 1
        Autograd.backward(y);
        double[] xs = x.toDoubleArray(), want = new double[5];
        for (int i = 0; i < 5; i++) want[i] = 2 * xs[i] + 1;
        assertClose(x.grad(), want, 1e-12);
    }

    @Test
    void diamondGraphVisitsSharedNodeOnce() {
        Tensor x = Tensors.leaf(gen, 4);
        Tensor e = F.exp(x);
        Tensor y = F.sum(F.mul(F.add(e, e), e));  // 2 e^2x: d/dx = 4 e^2x
        Autograd.backward(y);
        double[] xs = x.toDoubleArray(), want = new double[4];
        for (int i = 0; i < 4; i++) want[i] = 4 * Math.exp(2 * xs[i]);
        assertClose(x.grad(), want, 1e-10);
    }

    @Test
    void broadcastGradientsAreReducedToInputShapes() {
        Tensor a = Tensors.leaf(gen, 3, 1);
        Tensor b = Tensors.leaf(gen, 4);
        Tensor y = F.add(a, b);                   // [3, 4]
        Autograd.backward(y, Tensor.ones(DType.F64, 3, 4));
        assertThat(a.grad().shape()).containsExactly(3, 1);
        assertThat(b.grad().shape()).containsExactly(4);
        assertClose(a.grad(), new double[] {4, 4, 4}, 0);
        assertClose(b.grad(), new double[] {3, 3, 3, 3}, 0);
    }

    @Test
    void gradientsAccumulateAcrossBackwardsUntilZeroed() {
        Tensor x = Tensors.leaf(gen, 3);
        Autograd.backward(F.sum(F.mul(x, 2.0)));
        Autograd.backward(F.sum(F.mul(x, 3.0)));
        assertClose(x.grad(), new double[] {5, 5, 5}, 0);
        x.setGrad(null);
        Autograd.backward(F.sum(x));
        assertClose(x.grad(), new double[] {1, 1, 1}, 0);
    }

    @Test
    void leafGradientIsAnOwnedCopy() {
        Tensor a = Tensors.leaf(gen, 3);
        Tensor b = Tensors.leaf(gen, 3);
        Tensor up = Tensor.ones(DType.F64, 3);
        Autograd.backward(F.add(a, b), up);       // Add passes the same gradient to both
        a.grad().mulInPlace(10);
        assertClose(b.grad(), new double[] {1, 1, 1}, 0);
        assertClose(up, new double[] {1, 1, 1}, 0);
    }

    @Test
    void intermediateGradientsOnlyWhenRetained() {
        Tensor x = Tensors.leaf(gen, 3);
        Tensor h = F.mul(x, 3.0).retainGrad();
        Tensor k = F.mul(x, 2.0);
        Autograd.backward(F.sum(F.mul(F.add(h, k), 2.0)));
        assertClose(h.grad(), new double[] {2, 2, 2}, 0);
        assertThat(k.grad()).isNull();
        assertClose(x.grad(), new double[] {10, 10, 10}, 0);
    }

    @Test
    void graphIsFreedAfterBackwardUnlessRetained() {
        Tensor x = Tensors.leaf(gen, 3);
        Tensor y = F.sum(F.exp(x));
        Autograd.backward(y, null, true);
        Autograd.backward(y, null, false);
        double[] xs = x.toDoubleArray(), want = new double[3];
        for (int i = 0; i < 3; i++) want[i] = 2 * Math.exp(xs[i]);
        assertClose(x.grad(), want, 1e-12);
        assertThat(((Node) y.gradFn()).isReleased()).isTrue();
        assertThatThrownBy(() -> Autograd.backward(y))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("retainGraph");
    }

    @Test
    void noGradScopeStopsRecordingAndNests() {
        Tensor x = Tensors.leaf(gen, 3);
        try (NoGrad outer = NoGrad.enter()) {
            Tensor y = F.exp(x);
            assertThat(y.requiresGrad()).isFalse();
            assertThat(y.gradFn()).isNull();
            try (NoGrad inner = NoGrad.enter()) {
                assertThat(GradMode.isEnabled()).isFalse();
            }
            assertThat(GradMode.isEnabled()).isFalse();
        }
        assertThat(GradMode.isEnabled()).isTrue();
        assertThat(F.exp(x).requiresGrad()).isTrue();
    }

    @Test
    void detachCutsTheGraph() {
        Tensor x = Tensors.leaf(gen, 3);
        Tensor d = F.mul(x, 2.0).detach();
        assertThat(d.requiresGrad()).isFalse();
        Tensor y = F.sum(F.add(F.mul(d, x), x));    // d is a constant: dy/dx = d + 1
        Autograd.backward(y);
        double[] xs = x.toDoubleArray(), want = new double[3];
        for (int i = 0; i < 3; i++) want[i] = 2 * xs[i] + 1;
        assertClose(x.grad(), want, 1e-12);
    }

    @Test
    void opsWithoutGradInputsAreNotRecorded() {
        Tensor a = Tensor.randn(gen, DType.F64, 3);
        Tensor y = F.exp(a);
        assertThat(y.requiresGrad()).isFalse();
        assertThat(y.gradFn()).isNull();
        assertThatThrownBy(() -> Autograd.backward(F.sum(y)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not require a gradient");
    }

    @Test
    void viewOpReturningItsInputDoesNotAlterTheInput() {
        Tensor x = Tensors.leaf(gen, 2, 3);
        Tensor c = F.contiguous(x);               // the forward returns x itself
        assertThat(c).isNotSameAs(x);
        assertThat(x.isLeaf()).isTrue();
        assertThat(c.gradFn().name()).isEqualTo("Contiguous");
    }

    @Test
    void inPlaceChangeOfASavedTensorFailsAtBackward() {
        Tensor x = Tensors.leaf(gen, 4);
        Tensor a = F.mul(x, 1.0);
        Tensor y = F.exp(a);                      // Exp saves its output y
        Tensor loss = F.sum(F.mul(y, a));         // Mul saves y and a
        y.mulInPlace(2.0);
        assertThatThrownBy(() -> Autograd.backward(loss))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("modified in place")
                .hasMessageContaining("Mul");
    }

    @Test
    void inPlaceChangeThroughAnotherViewIsDetected() {
        Tensor x = Tensors.leaf(gen, 2, 3);
        Tensor base = F.mul(x, 1.0);
        Tensor row = F.select(base, 0, 1);
        Tensor loss = F.sum(F.mul(row, row));     // saves row, a view of base
        base.detach().select(0, 1).set(5.0, 0);   // writes through a different view of the same storage
        assertThatThrownBy(() -> Autograd.backward(loss)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("modified in place");
    }

    @Test
    void inPlaceChangeOfATensorNotSavedIsAllowed() {
        Tensor x = Tensors.leaf(gen, 3);
        Tensor a = F.mul(x, 2.0);                  // MulScalar saves nothing
        Tensor loss = F.sum(F.add(a, 1.0));        // AddScalar saves nothing
        a.detach().fill(0);
        Autograd.backward(loss);
        assertClose(x.grad(), new double[] {2, 2, 2}, 0);
    }

    @Test
    void backwardOfNonScalarNeedsAnUpstreamGradientOfItsShape() {
        Tensor x = Tensors.leaf(gen, 2, 3);
        Tensor y = F.exp(x);
        assertThatThrownBy(() -> Autograd.backward(y))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[2, 3]");
        assertThatThrownBy(() -> Autograd.backward(y, Tensor.ones(DType.F64, 3, 2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[3, 2]").hasMessageContaining("[2, 3]");
        assertThatThrownBy(() -> Autograd.backward(y, Tensor.zeros(DType.I64, 2, 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("floating point");
        assertThat(x.grad()).isNull();
    }

    @Test
    void integerTensorsCannotRequireGradients() {
        assertThatThrownBy(() -> Tensor.zeros(DType.I64, 3).setRequiresGrad(true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("I64");
    }

    @Test
    void opOnTensorsOfDifferentDevicesIsRejected() {
        Tensor cpu = Tensors.leaf(gen, 2);
        Tensor gpu = new Tensor(new FakeDeviceStorage(), new int[] {2}, new int[] {1}, 0);
        assertThatThrownBy(() -> F.add(cpu, gpu))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("different devices").hasMessageContaining("cuda:0");
    }

    @Test
    void deepChainsDoNotOverflowTheStack() {
        Tensor x = Tensors.leaf(gen, 1);
        Tensor y = x;
        for (int i = 0; i < 20000; i++) y = F.add(y, 0.0);
        Autograd.backward(F.sum(y));
        assertClose(x.grad(), new double[] {1}, 0);
    }

    @Test
    void gradReturnsGradientsWithoutTouchingGradSlots() {
        Tensor x = Tensors.leaf(gen, 3);
        Tensor w = Tensors.leaf(gen, 3);
        Tensor h = F.mul(x, w);
        Tensor y = F.sum(F.mul(h, 3.0));
        Tensor[] g = Autograd.grad(y, null, false, x, h);
        double[] want = w.toDoubleArray();
        for (int i = 0; i < want.length; i++) want[i] *= 3;
        assertClose(g[0], want, 1e-15);
        assertClose(g[1], new double[] {3, 3, 3}, 0);
        assertThat(x.grad()).isNull();
        assertThat(w.grad()).isNull();
        assertThat(h.grad()).isNull();
    }

    @Test
    void backwardComputesOnlyTheGradientsSomeInputNeeds() {
        int[] calls = new int[2];
        Function probe = new Function() {
            @Override
            protected Tensor forward(Context ctx, Tensor... in) { return in[0].add(in[1]); }

            @Override
            protected Tensor[] backward(Context ctx, Tensor g) {
                Tensor[] out = new Tensor[2];
                for (int i = 0; i < 2; i++) if (ctx.needsInputGrad(i)) { calls[i]++; out[i] = g; }
                return out;
            }
        };
        Tensor a = Tensors.leaf(gen, 3);
        Tensor b = Tensor.randn(gen, DType.F64, 3);
        Autograd.backward(probe.apply(a, b), Tensor.ones(DType.F64, 3));
        assertThat(calls).containsExactly(1, 0);
    }

    @Test
    void functionReturningAWrongShapeIsReportedByName() {
        Function broken = new Function() {
            @Override
            protected Tensor forward(Context ctx, Tensor... in) { return in[0].mul(2.0); }

            @Override
            protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.sum()}; }

            @Override
            public String name() { return "Broken"; }
        };
        Tensor x = Tensors.leaf(gen, 3);
        assertThatThrownBy(() -> Autograd.backward(broken.apply(x), Tensor.ones(DType.F64, 3)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Broken").hasMessageContaining("[3]");
    }

    @Test
    void nodesExposeTheGraph() {
        Tensor x = Tensors.leaf(gen, 2);
        Tensor y = F.exp(F.mul(x, 2.0));
        Node n = (Node) y.gradFn();
        assertThat(n.name()).isEqualTo("Exp");
        assertThat(n.nextNodes()).hasSize(1);
        assertThat(n.nextNodes().get(0).name()).isEqualTo("MulScalar");
        assertThat(n.nextNodes().get(0).leafInputs()).containsExactly(x);
    }

    @Test
    void rootThatIsALeafReceivesTheUpstreamGradient() {
        Tensor x = Tensors.leaf(gen, 2);
        Autograd.backward(x, Tensor.full(DType.F64, 3.0, 2));
        assertClose(x.grad(), new double[] {3, 3}, 0);
    }

    @Test
    void gradientsAreConvertedToTheInputDType() {
        Tensor x = Tensor.randn(gen, DType.F32, 3).setRequiresGrad(true);
        Tensor y = F.sum(F.mul(F.to(x, DType.F64), 2.0));
        assertThat(y.dtype()).isEqualTo(DType.F64);
        Autograd.backward(y);
        assertThat(x.grad().dtype()).isEqualTo(DType.F32);
        assertClose(x.grad(), new double[] {2, 2, 2}, 0);
    }

    /** A storage that claims to live on a GPU, for device checks. */
    private static final class FakeDeviceStorage implements Storage {
        @Override public DType dtype() { return DType.F64; }
        @Override public int size() { return 2; }
        @Override public Device device() { return Device.cuda(0); }
        @Override public int version() { return 0; }
        @Override public void bumpVersion() {}
        @Override public String toString() { return "fake " + Shape.str(2); }
    }
}
