package dev.moe4j.lora;

import dev.moe4j.autograd.F;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.autograd.nn.Sequential;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A small transformer-like tree for attaching adapters: {@code layers.<i>.q_proj}, {@code .v_proj},
 * {@code .mlp.0}, {@code .mlp.1} (Linear, with a ReLU between), then {@code lm_head}. Each layer
 * adds q_proj(x) + v_proj(x) + mlp(x) to x; the model holds its Linears in fields and calls them.
 */
final class ToyModel extends Module {
    static final class Block extends Module {
        final Linear qProj, vProj;
        final Sequential mlp;

        Block(int d, int f, DType dtype, Generator gen) {
            qProj = registerModule("q_proj", new Linear(d, d, true, dtype, gen));
            vProj = registerModule("v_proj", new Linear(d, d, false, dtype, gen));
            Linear up = new Linear(d, f, true, dtype, gen);
            Linear down = new Linear(f, d, true, dtype, gen);
            mlp = registerModule("mlp", new Sequential(up, new Relu(), down));
        }

        @Override
        public Tensor forward(Tensor x) {
            return F.add(F.add(x, F.add(qProj.forward(x), vProj.forward(x))), mlp.forward(x));
        }
    }

    static final class Relu extends Module {
        @Override
        public Tensor forward(Tensor x) { return F.relu(x); }
    }

    static final class Layers extends Module {
        final List<Block> blocks = new ArrayList<>();

        Layers(int n, int d, int f, DType dtype, Generator gen) {
            for (int i = 0; i < n; i++) blocks.add(registerModule(Integer.toString(i), new Block(d, f, dtype, gen)));
        }

        @Override
        public Tensor forward(Tensor x) {
            for (Block b : blocks) x = b.forward(x);
            return x;
        }
    }

    final Layers layers;
    final Linear lmHead;

    ToyModel(int n, int d, int f, int vocab, DType dtype, long seed) {
        Generator gen = new Generator(seed);
        layers = registerModule("layers", new Layers(n, d, f, dtype, gen));
        lmHead = registerModule("lm_head", new Linear(d, vocab, false, dtype, gen));
    }

    @Override
    public Tensor forward(Tensor x) { return lmHead.forward(layers.forward(x)); }
}
