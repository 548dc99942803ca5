package dev.moe4j.autograd.nn;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModuleTest {
    private final Generator gen = new Generator(3);

    /** A small model with every layer kind. */
    private static final class Block extends Module {
        final Embedding embed;
        final LayerNorm norm;
        final RMSNorm rms;
        final SwiGLUMlp mlp;
        final Dropout drop;
        final Linear head;

        Block(Generator gen) {
            embed = registerModule("embed", new Embedding(10, 4, DType.F64, gen));
            norm = registerModule("norm", new LayerNorm(4, 1e-5, true, DType.F64));
            rms = registerModule("rms", new RMSNorm(4, 1e-6, DType.F64));
            mlp = registerModule("mlp", new SwiGLUMlp(4, 6, DType.F64, gen));
            drop = registerModule("drop", new Dropout(0.5, gen));
            head = registerModule("head", new Linear(4, 3, true, DType.F64, gen));
            registerBuffer("scale", Tensor.full(DType.F64, 2.0, 1));
        }

        @Override
        public Tensor forward(Tensor ids) {
            Tensor h = norm.forward(embed.forward(ids));
            h = F.add(h, mlp.forward(rms.forward(h)));
            return head.forward(drop.forward(h));
        }
    }

    @Test
    void namedParametersFollowTheTreeInRegistrationOrder() {
        Block b = new Block(gen);
        assertThat(b.namedParameters().keySet()).containsExactly(
                "embed.weight", "norm.weight", "norm.bias", "rms.weight",
                "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
                "head.weight", "head.bias");
        assertThat(b.namedBuffers().keySet()).containsExactly("scale");
        assertThat(b.numParameters()).isEqualTo(40 + 4 + 4 + 4 + 24 + 24 + 24 + 12 + 3);
        for (Tensor p : b.parameters()) assertThat(p.requiresGrad()).isTrue();
        assertThat(b.toString()).contains("(mlp): SwiGLUMlp").contains("(gate_proj): Linear(in=4, out=6, bias=false)");
    }

    @Test
    void trainAndEvalReachEveryLayer() {
        Block b = new Block(gen);
        Tensor ids = Tensor.of(new long[] {1, 2, 3}, 3);
        b.eval();
        assertThat(b.drop.isTraining()).isFalse();
        Tensor y1 = b.forward(ids), y2 = b.forward(ids);
        assertThat(y1.toDoubleArray()).containsExactly(y2.toDoubleArray());
        b.train();
        assertThat(b.mlp.isTraining()).isTrue();
    }

    @Test
    void gradientsReachEveryParameterAndZeroGradClearsThem() {
        Block b = new Block(gen);
        b.eval();
        Tensor ids = Tensor.of(new long[] {1, 2, 3, 1}, 4);
        Tensor loss = F.crossEntropy(b.forward(ids), Tensor.of(new long[] {0, 2, 1, 1}, 4));
        Autograd.backward(loss);
        for (Map.Entry<String, Tensor> e : b.namedParameters().entrySet()) {
            assertThat(e.getValue().grad()).as(e.getKey()).isNotNull();
            assertThat(e.getValue().grad().shape()).isEqualTo(e.getValue().shape());
        }
        b.zeroGrad();
        for (Tensor p : b.parameters()) assertThat(p.grad()).isNull();
    }

    @Test
    void wholeModelPassesAGradientCheck() {
        Block b = new Block(gen);
        b.eval();
        Tensor ids = Tensor.of(new long[] {4, 2}, 2);
        Tensor[] params = b.parameters().toArray(new Tensor[0]);
        GradCheck.Result r = GradCheck.check(in -> b.forward(ids), params);
        assertThat(r.passed()).as(r.worst()).isTrue();
    }

    @Test
    void stateDictRoundTripsThroughSafetensorsWithTheSameNames(@TempDir Path dir) throws Exception {
        Block a = new Block(new Generator(1));
        Block b = new Block(new Generator(2));
        Path file = dir.resolve("block.safetensors");
        a.save(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.names()).containsExactlyInAnyOrderElementsOf(a.stateDict().keySet());
        }
        b.load(file, true);
        for (Map.Entry<String, Tensor> e : a.stateDict().entrySet()) {
            assertThat(b.stateDict().get(e.getKey()).toDoubleArray()).as(e.getKey()).containsExactly(e.getValue().toDoubleArray());
        }
        a.eval();
        b.eval();
        Tensor ids = Tensor.of(new long[] {7, 3}, 2);
        assertThat(b.forward(ids).toDoubleArray()).containsExactly(a.forward(ids).toDoubleArray(), within(0.0));
    }

    @Test
    void loadStateDictReportsMissingUnexpectedAndMisshapedEntries() {
        Linear l = new Linear(3, 2, true, DType.F32, gen);
        Map<String, Tensor> state = new LinkedHashMap<>();
        state.put("weight", Tensor.zeros(2, 3));
        state.put("extra", Tensor.zeros(1));
        assertThatThrownBy(() -> l.loadStateDict(state, true)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("missing [bias]").hasMessageContaining("unexpected [extra]");
        l.loadStateDict(state, false);
        assertThat(l.weight().toDoubleArray()).containsOnly(0.0);
        state.put("bias", Tensor.zeros(3));
        assertThatThrownBy(() -> l.loadStateDict(state, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bias").hasMessageContaining("[3]").hasMessageContaining("[2]");
    }

    @Test
    void linearInitialisationIsBoundedAsPyTorch() {
        Linear l = new Linear(16, 8, true, DType.F32, gen);
        double bound = 1 / Math.sqrt(16);
        for (double v : l.weight().toDoubleArray()) assertThat(Math.abs(v)).isLessThanOrEqualTo(bound);
        for (double v : l.bias().toDoubleArray()) assertThat(Math.abs(v)).isLessThanOrEqualTo(bound);
        assertThat(l.weight().dtype()).isEqualTo(DType.F32);
    }

    @Test
    void duplicateNamesAreRejected() {
        assertThatThrownBy(() -> new Module() {
            {
                registerParameter("w", Tensor.zeros(2));
                registerBuffer("w", Tensor.zeros(2));
            }

            @Override
            public Tensor forward(Tensor x) { return x; }
        }).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'w'");
    }

    @Test
    void sequentialNamesLayersByPosition() {
        Sequential s = new Sequential(new Linear(4, 8, gen), Activation.relu(), new Linear(8, 2, gen));
        assertThat(s.namedParameters().keySet()).containsExactly("0.weight", "0.bias", "2.weight", "2.bias");
        assertThat(s.forward(Tensor.zeros(5, 4)).shape()).containsExactly(5, 2);
    }
}
