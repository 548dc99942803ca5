package dev.moe4j.moe.hf;

import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.kernels.cpu.moe.DropPolicy;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.experts.SharedExpert;
import dev.moe4j.moe.routing.Capacity;
import dev.moe4j.moe.routing.DeepSeekV3Router;
import dev.moe4j.moe.routing.Router;
import dev.moe4j.moe.routing.SoftmaxTopKRouter;
import dev.moe4j.moe.routing.SwitchRouter;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Loads Hugging Face MoE blocks (Mixtral, Qwen2-MoE, DeepSeek-V3, Switch Transformers) from
 * safetensors into {@link MoeLayer}s, configured from the config JSON.
 *
 * <h2>Names</h2>
 * Parameters carry their Hugging Face names relative to the block, behind a prefix: {@code param.}
 * (and {@code buffer.} for buffers) in reference files, the module path in a checkpoint (e.g.
 * {@code model.layers.3.mlp.}). Routed experts are read fused as transformers 5 stores them
 * ({@code experts.gate_up_proj} [E, 2f, d] with the gate half first, {@code experts.down_proj}
 * [E, d, f]) or, when the fused names are absent, per expert as older checkpoints store them
 * (Mixtral {@code experts.i.w1/w3/w2.weight}; Qwen2-MoE and DeepSeek-V3
 * {@code experts.i.gate_proj/up_proj/down_proj.weight}). Switch experts are always per expert
 * ({@code experts.expert_i.wi.weight} [f, d], {@code experts.expert_i.wo.weight} [d, f]) and are
 * stacked into the layer's fused {@code up_proj} / {@code down_proj}.
 *
 * <h2>Switch expert capacity as transformers 5 applies it</h2>
 * {@code SwitchTransformersSparseMLP} flattens the hidden states to [T, d] before its router; the
 * router's one-hot expert mask is then [T, 1, E] and its capacity cumsum runs over the length-1
 * axis, so every token is its own capacity group: a token is kept whenever
 * {@code expert_capacity >= 1} (and all are dropped at 0), however many tokens share an expert. The
 * loader reproduces this with a {@link SwitchRouter} whose {@link Capacity} is
 * {@code expert_capacity} per group of one token. (The Switch router itself implements the paper's
 * capacity over groups of many tokens; build it with another group size for that.) Dropped tokens
 * get a zero output, as there.
 *
 * <h2>Checks</h2>
 * Every tensor must be present with the shape the config implies; otherwise an
 * {@link IllegalArgumentException} names the tensor, its shape and the expected one (all missing
 * names are listed at once), before anything is copied.
 */
public final class HfMoeLoader {
    private HfMoeLoader() {}

    /**
     * Loads a reference file: config from the file's {@code config} metadata (family from
     * {@code model_type} or the {@code class} metadata), parameters under {@code param.}, buffers under
     * {@code buffer.}; F32 layer.
     *
     * @throws IllegalArgumentException when the metadata lacks a config, or the tensors do not fit it
     * @throws IOException when the file cannot be read
     */
    public static HfMoeBlock loadReferenceFile(Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return load(f, configOf(f), "param.", "buffer.", DType.F32);
        }
    }

    /**
     * Loads a block from a checkpoint file whose tensors sit under {@code modulePrefix} (parameters
     * and buffers alike), with the config read from a {@code config.json}, or from the file's
     * {@code config} metadata when {@code configJson} is null.
     *
     * @param dtype the layer's dtype (F32 or F64)
     * @throws IllegalArgumentException for a missing config, a bad config, or tensors that do not fit it
     * @throws IOException when a file cannot be read
     */
    public static HfMoeBlock load(Path checkpoint, Path configJson, String modulePrefix, DType dtype) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(checkpoint)) {
            HfMoeConfig config = configJson != null ? HfMoeConfig.read(configJson) : configOf(f);
            return load(f, config, modulePrefix, modulePrefix, dtype);
        }
    }

    /**
     * The config in a safetensors file's {@code config} metadata.
     *
     * @throws IllegalArgumentException when there is none or it is invalid
     */
    public static HfMoeConfig configOf(SafetensorsFile file) {
        String json = file.metadata().get("config");
        if (json == null) throw new IllegalArgumentException(file.path() + " has no 'config' metadata; pass a config.json");
        return HfMoeConfig.parse(json, file.metadata().get("class"));
    }

    /**
     * Builds the layer for {@code config} and copies the block's tensors into it.
     *
     * @param file         the open safetensors file
     * @param config       the block's settings
     * @param paramPrefix  prefix of parameter names in the file
     * @param bufferPrefix prefix of buffer names in the file
     * @param dtype        the layer's dtype (F32 or F64)
     * @throws IllegalArgumentException when a tensor is missing or its shape does not match the config
     */
    @SuppressWarnings("try")
    public static HfMoeBlock load(SafetensorsFile file, HfMoeConfig config, String paramPrefix, String bufferPrefix, DType dtype) {
        if (dtype != DType.F32 && dtype != DType.F64) throw new IllegalArgumentException("layer dtype must be F32 or F64, got " + dtype);
        MoeLayer layer = build(config, dtype);
        boolean fused = file.contains(paramPrefix + "experts.gate_up_proj")
                || !file.contains(paramPrefix + "experts.0." + (config.family() == HfFamily.MIXTRAL ? "w1" : "gate_proj") + ".weight");
        List<HfParameter> names = names(config, layer, fused);
        List<String> missing = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        for (HfParameter p : names) {
            String key = (p.buffer() ? bufferPrefix : paramPrefix) + p.name();
            if (!file.contains(key)) {
                missing.add(key);
                continue;
            }
            int[] have = file.info(key).shape(), want = p.shape();
            if (!Arrays.equals(have, want)) {
                wrong.add("'" + key + "' has shape " + Shape.str(have) + ", the config (" + sizes(config) + ") needs " + Shape.str(want));
            }
        }
        if (!missing.isEmpty() || !wrong.isEmpty()) {
            throw new IllegalArgumentException(file.path() + ": the " + config.family().blockClass() + " weights do not match the config"
                    + (missing.isEmpty() ? "" : "; missing " + missing) + (wrong.isEmpty() ? "" : "; " + String.join("; ", wrong)));
        }
        try (NoGrad scope = NoGrad.enter()) {
            for (HfParameter p : names) {
                Tensor src = file.tensor((p.buffer() ? bufferPrefix : paramPrefix) + p.name());
                p.value().copyFrom(src);
            }
        }
        return HfMoeBlock.of(config, layer, names);
    }

    private static String sizes(HfMoeConfig c) {
        return "d=" + c.hiddenSize() + ", E=" + c.numExperts() + ", f=" + c.intermediateSize()
                + (c.sharedIntermediateSize() > 0 ? ", shared f=" + c.sharedIntermediateSize() : "");
    }

    /**
     * A layer with the config's structure (weights still random).
     *
     * @throws IllegalArgumentException for an inconsistent config
     */
    public static MoeLayer build(HfMoeConfig c, DType dtype) {
        Generator gen = new Generator(0);
        int d = c.hiddenSize(), E = c.numExperts(), k = c.topK();
        GroupedExperts experts = new GroupedExperts(E, d, c.intermediateSize(), c.activation(), c.gated(), dtype, gen, 0.02);
        return switch (c.family()) {
            case MIXTRAL -> new MoeLayer(new SoftmaxTopKRouter(d, E, k, true, Capacity.unlimited(), false, dtype, gen, 0.02), "gate",
                    experts, null, "shared_experts", null, Balancing.none(), c.jitter(), 0);
            case QWEN2_MOE -> {
                Router r = new SoftmaxTopKRouter(d, E, k, c.normTopkProb(), Capacity.unlimited(), false, dtype, gen, 0.02);
                boolean hasShared = c.sharedIntermediateSize() > 0;
                SharedExpert shared = hasShared ? new SharedExpert(d, c.sharedIntermediateSize(), c.activation(), true, dtype, gen) : null;
                Linear gate = hasShared ? new Linear(d, 1, false, dtype, gen) : null;
                yield new MoeLayer(r, "gate", experts, shared, "shared_expert", gate, Balancing.none(), c.jitter(), 0);
            }
            case DEEPSEEK_V3 -> {
                Router r = new DeepSeekV3Router(d, E, k, c.nGroup(), c.topkGroup(), c.normTopkProb(), c.routedScalingFactor(), dtype, gen, 0.02);
                SharedExpert shared = c.sharedIntermediateSize() > 0
                        ? new SharedExpert(d, c.sharedIntermediateSize(), c.activation(), true, dtype, gen) : null;
                yield new MoeLayer(r, "gate", experts, shared, "shared_experts", null, Balancing.none(), 0, 0);
            }
            case SWITCH -> {
                // transformers 5: one capacity group per token (see the class comment)
                Capacity capacity = Capacity.fixed(c.expertCapacity(), DropPolicy.BY_POSITION, 1);
                Router r = new SwitchRouter(d, E, capacity, c.routerBias(), c.jitter(), dtype, gen);
                yield new MoeLayer(r, "router", experts, null, "shared_experts", null, Balancing.none(), 0, 0);
            }
        };
    }

    /**
     * A layer built for {@code config} (by {@link #build}, then trained or loaded) under its Hugging Face
     * names, fused layout: for reading values and gradients by those names, or for
     * {@link HfMoeBlock#save saving} it as a Hugging Face checkpoint.
     *
     * @throws IllegalArgumentException when the layer does not have the config's structure
     */
    public static HfMoeBlock wrap(HfMoeConfig config, MoeLayer layer) {
        List<HfParameter> names;
        try {
            names = names(config, layer, true);
        } catch (ClassCastException | NullPointerException e) {
            throw new IllegalArgumentException("the layer does not have the structure of a " + config.family().blockClass() + ": " + layer, e);
        }
        for (HfParameter p : names) p.value();
        return HfMoeBlock.of(config, layer, names);
    }

    /**
     * The Hugging Face names of the block and where they live in {@code layer}.
     *
     * @param fused experts under the fused transformers 5 names, or per expert as older checkpoints
     */
    static List<HfParameter> names(HfMoeConfig c, MoeLayer layer, boolean fused) {
        List<HfParameter> out = new ArrayList<>();
        int E = c.numExperts(), f = c.intermediateSize();
        Tensor up = layer.experts().upProjection(), down = layer.experts().downProjection();
        switch (c.family()) {
            case MIXTRAL, QWEN2_MOE, DEEPSEEK_V3 -> {
                Tensor routerWeight = c.family() == HfFamily.DEEPSEEK_V3 ? ((DeepSeekV3Router) layer.router()).weight()
                        : ((SoftmaxTopKRouter) layer.router()).weight();
                out.add(whole("gate.weight", routerWeight));
                if (c.family() == HfFamily.DEEPSEEK_V3) {
                    out.add(new HfParameter("gate.e_score_correction_bias", layer.router().selectionBias(), -1, 0, -1, true));
                }
                if (fused) {
                    out.add(whole("experts.gate_up_proj", up));
                    out.add(whole("experts.down_proj", down));
                } else {
                    String g = c.family() == HfFamily.MIXTRAL ? "w1" : "gate_proj";
                    String u = c.family() == HfFamily.MIXTRAL ? "w3" : "up_proj";
                    String dn = c.family() == HfFamily.MIXTRAL ? "w2" : "down_proj";
                    for (int e = 0; e < E; e++) {
                        out.add(new HfParameter("experts." + e + "." + g + ".weight", up, e, 0, f, false));
                        out.add(new HfParameter("experts." + e + "." + u + ".weight", up, e, f, f, false));
                        out.add(new HfParameter("experts." + e + "." + dn + ".weight", down, e, 0, -1, false));
                    }
                }
                if (layer.sharedExpert() != null) {
                    String s = c.family() == HfFamily.QWEN2_MOE ? "shared_expert" : "shared_experts";
                    out.add(whole(s + ".gate_proj.weight", layer.sharedExpert().gateProj().weight()));
                    out.add(whole(s + ".up_proj.weight", layer.sharedExpert().upProj().weight()));
                    out.add(whole(s + ".down_proj.weight", layer.sharedExpert().downProj().weight()));
                    if (layer.sharedExpertGate() != null) out.add(whole("shared_expert_gate.weight", layer.sharedExpertGate().weight()));
                }
            }
            case SWITCH -> {
                SwitchRouter r = (SwitchRouter) layer.router();
                out.add(whole("router.classifier.weight", r.classifier().weight()));
                if (r.classifier().bias() != null) out.add(whole("router.classifier.bias", r.classifier().bias()));
                for (int e = 0; e < E; e++) {
                    out.add(new HfParameter("experts.expert_" + e + ".wi.weight", up, e, 0, -1, false));
                    out.add(new HfParameter("experts.expert_" + e + ".wo.weight", down, e, 0, -1, false));
                }
            }
        }
        return out;
    }

    private static HfParameter whole(String name, Tensor t) {
        return new HfParameter(name, t, -1, 0, -1, false);
    }
}
