package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.optim.Adam;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MiLoraTest {
    private static final AdapterSpec RANDOM = AdapterSpec.of(2, 4).withInit(LoraInit.RANDOM);
    private static final List<String> MODULES = List.of("q_proj", "v_proj", "mlp.0", "mlp.2");

    private static ToyModel.Block block(long seed) { return new ToyModel.Block(6, 8, DType.F64, new Generator(seed)); }

    /** base(x) + g[b] * s B A x for every token of sequence b: the expert written out. */
    private static Tensor expected(MiLoraLinear e, Tensor x, double[][] gates) {
        Tensor y = e.baseLayer().forwardBase(x).copy();
        Tensor a = e.lora().a().select(0, 0), b = e.lora().b().select(0, 0);
        for (int s = 0; s < x.size(0); s++) {
            for (int t = 0; t < x.size(1); t++) {
                double g = gates[s][e.index()];
                y.select(0, s).select(0, t).addInPlace(b.matmul(a.matmul(x.select(0, s).select(0, t))).mul(e.lora().scaling() * g));
            }
        }
        return y;
    }

    private static double[][] rows(Tensor g) {
        double[][] out = new double[g.size(0)][];
        for (int b = 0; b < g.size(0); b++) out[b] = g.select(0, b).contiguous().toDoubleArray();
        return out;
    }

    @Test
    void routerPoolsThePromptAndKeepsTopK() {
        PromptRouter last = new PromptRouter(6, 4, 2, PromptRouter.Pooling.LAST_TOKEN, null, DType.F64, new Generator(1));
        PromptRouter mean = new PromptRouter(6, 4, 2, PromptRouter.Pooling.MEAN, null, DType.F64, new Generator(1));
        Tensor h = Tensor.randn(new Generator(2), DType.F64, 3, 5, 6);
        close(last.pool(h), h.select(1, 4).contiguous(), Checks.F64, "last-token pooling");
        close(mean.pool(h), h.mean(1, false), Checks.F64, "mean pooling");
        Tensor g = last.gates(h);
        Tensor p = h.select(1, 4).matmul(last.router().weight().mT()).softmax(-1);
        for (int b = 0; b < 3; b++) {
            int nonzero = 0;
            double sum = 0;
            for (int m = 0; m < 4; m++) {
                double v = g.getDouble(b, m);
                if (v != 0) nonzero++;
                sum += v;
                int above = 0;
                for (int o = 0; o < 4; o++) if (p.getDouble(b, o) > p.getDouble(b, m)) above++;
                if (above < 2) assertThat(v).isGreaterThan(0);
            }
            assertThat(nonzero).isEqualTo(2);
            assertThat(sum).isCloseTo(1.0, Offset.offset(1e-12));
        }
        assertThatThrownBy(() -> last.gates(Tensor.zeros(DType.F64, 3, 6))).hasMessageContaining("[B, S >= 1, d = 6]");
    }

    @Test
    void promptRoutingIsComputedOnceAndReusedForEveryGeneratedToken() {
        ToyModel.Block blk = block(3);
        MiLoraLayer layer = MiLoraLayer.attach(blk, "q_proj", MODULES, RANDOM, 2, PromptRouter.Pooling.LAST_TOKEN, new Generator(4));
        layer.eval();
        layer.setSequenceIds(7, 9);
        Tensor prompt = Tensor.randn(new Generator(5), DType.F64, 2, 5, 6);
        blk.forward(prompt);
        assertThat(layer.cachedSequences()).containsExactlyInAnyOrder(7L, 9L);
        double[][] g = {layer.cachedGates(7), layer.cachedGates(9)};
        close(Tensor.of(new double[] {g[0][0], g[0][1], g[0][2], g[0][3], g[1][0], g[1][1], g[1][2], g[1][3]}, 2, 4),
                layer.router().gates(prompt), Checks.F64, "cached gates are the router's decision on the prompt");
        MiLoraLinear q = layer.experts().get(0), v = layer.experts().get(1);
        close(blk.qProj.forward(prompt), expected(q, prompt, g), Checks.F64, "every prompt token uses the sequence's gate");

        for (int step = 0; step < 3; step++) {                                 // decoding: one new token per sequence
            Tensor tok = Tensor.randn(new Generator(10 + step), DType.F64, 2, 1, 6).mul(3);
            Tensor fresh = layer.router().gates(tok);
            assertThat(Checks.relErr(fresh, Tensor.of(new double[] {g[0][0], g[0][1], g[0][2], g[0][3], g[1][0], g[1][1], g[1][2], g[1][3]}, 2, 4)))
                    .as("the new token alone would route differently").isGreaterThan(1e-6);
            close(blk.qProj.forward(tok), expected(q, tok, g), Checks.F64, "q_proj reuses the prompt's routing");
            close(blk.vProj.forward(tok), expected(v, tok, g), Checks.F64, "v_proj reuses the prompt's routing");
            assertThat(layer.cachedGates(7)).containsExactly(g[0]);
        }

        layer.forget(7);                                                       // a new sequence takes slot 7
        Tensor next = Tensor.randn(new Generator(20), DType.F64, 2, 4, 6);
        blk.qProj.forward(next);
        assertThat(layer.cachedGates(9)).containsExactly(g[1]);
        double[] g7 = layer.cachedGates(7);
        close(Tensor.of(g7, 1, 4), layer.router().gates(next.narrow(0, 0, 1)), Checks.F64, "a forgotten sequence is routed again");
        layer.clearCache();
        assertThat(layer.cachedSequences()).isEmpty();
    }

    @Test
    void withoutSequenceIdsEveryForwardRoutesInTheGraph() {
        ToyModel.Block blk = block(3);
        MiLoraLayer layer = MiLoraLayer.attach(blk, "q_proj", MODULES, RANDOM, 3, PromptRouter.Pooling.MEAN, new Generator(4));
        Tensor x = Tensor.randn(new Generator(6), DType.F64, 3, 4, 6);
        Tensor y = blk.qProj.forward(x);
        double[][] g = rows(layer.router().gates(x));
        close(y, expected(layer.experts().get(0), x, g), Checks.F64, "q_proj with per-forward routing");
        assertThat(layer.cachedSequences()).isEmpty();
        Tensor in = x.copy().setRequiresGrad(true);
        MiLoraLinear q = layer.experts().get(0), v = layer.experts().get(1);
        GradCheck.assertGradients(a -> F.add(blk.qProj.forward(a[0]), blk.vProj.forward(a[0])), in,
                layer.router().router().weight(), q.lora().a(), q.lora().b(), v.lora().a(), v.lora().b());
    }

    @Test
    void expertsRunAfterTheRouterInputOnly() {
        ToyModel.Block blk = block(3);
        MiLoraLayer layer = MiLoraLayer.attach(blk, "q_proj", MODULES, RANDOM, 2, PromptRouter.Pooling.LAST_TOKEN, new Generator(4));
        assertThatThrownBy(() -> blk.vProj.forward(Tensor.zeros(DType.F64, 2, 3, 6))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("q_proj");
        // a later batch of the same size without the router input layer must not reuse the last batch's gates
        blk.qProj.forward(Tensor.zeros(DType.F64, 2, 3, 6));
        blk.vProj.forward(Tensor.zeros(DType.F64, 2, 3, 6));
        assertThatThrownBy(() -> blk.vProj.forward(Tensor.zeros(DType.F64, 2, 3, 6))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("must run first");
        layer.setSequenceIds(1, 2, 3);
        assertThatThrownBy(() -> blk.qProj.forward(Tensor.zeros(DType.F64, 2, 3, 6))).hasMessageContaining("3 sequence ids");
        assertThatThrownBy(() -> layer.setSequenceIds(4, 4)).hasMessageContaining("twice");
        assertThatThrownBy(() -> MiLoraLayer.attach(block(1), "k_proj", MODULES, RANDOM, 2, PromptRouter.Pooling.MEAN, new Generator(1)))
                .hasMessageContaining("router input 'k_proj'");
        assertThatThrownBy(() -> MiLoraLayer.attach(block(1), "q_proj", List.of("q_proj", "mlp"), RANDOM, 2, PromptRouter.Pooling.MEAN, new Generator(1)))
                .hasMessageContaining("not a Linear");
        assertThatThrownBy(() -> MiLoraLayer.attach(blk, "q_proj", MODULES, RANDOM, 2, PromptRouter.Pooling.MEAN, new Generator(1)))
                .hasMessageContaining("already wrapped");
        layer.unwrap();
        assertThat(blk.qProj.forwardOverride()).isNull();
    }

    @Test
    void trainsThroughTheBlock() {
        ToyModel.Block teacher = block(3), student = block(3);
        Tensor x = Tensor.randn(new Generator(6), DType.F64, 8, 4, 6);
        Tensor target;
        try (var s = dev.moe4j.autograd.NoGrad.enter()) {
            target = teacher.forward(x).add(x.matmul(Tensor.randn(new Generator(7), DType.F64, 6, 6).mul(0.2)));
        }
        MiLoraLayer layer = MiLoraLayer.attach(student, "q_proj", MODULES, AdapterSpec.of(2, 4), 2, PromptRouter.Pooling.MEAN, new Generator(4));
        List<Tensor> params = new ArrayList<>(layer.trainableParameters().values());
        assertThat(params).doesNotContain(student.qProj.weight());
        Adam opt = new Adam(params, 3e-2);
        double first = 0, last = 0;
        for (int step = 0; step < 40; step++) {
            opt.zeroGrad();
            Tensor loss = F.mseLoss(student.forward(x), target);
            if (step == 0) first = loss.item();
            last = loss.item();
            Autograd.backward(loss);
            opt.step();
        }
        assertThat(last).as("MiLoRA loss after 40 steps vs first").isLessThan(0.5 * first);
        assertThat(student.qProj.weight().grad()).isNull();
    }
}
