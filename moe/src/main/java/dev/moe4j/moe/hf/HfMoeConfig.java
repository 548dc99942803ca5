package dev.moe4j.moe.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe4j.moe.ops.ExpertActivation;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The MoE-block settings of a Hugging Face config ({@code config.json}, or the {@code config}
 * metadata of a safetensors file), read per family:
 *
 * <table>
 *   <caption>config keys per family</caption>
 *   <tr><th></th><th>Mixtral</th><th>Qwen2-MoE</th><th>DeepSeek-V3</th><th>Switch</th></tr>
 *   <tr><td>d</td><td>hidden_size</td><td>hidden_size</td><td>hidden_size</td><td>d_model</td></tr>
 *   <tr><td>f (routed)</td><td>intermediate_size</td><td>moe_intermediate_size</td><td>moe_intermediate_size</td><td>d_ff</td></tr>
 *   <tr><td>E</td><td>num_local_experts</td><td>num_experts</td><td>n_routed_experts</td><td>num_experts</td></tr>
 *   <tr><td>k</td><td>num_experts_per_tok</td><td>num_experts_per_tok</td><td>num_experts_per_tok</td><td>1</td></tr>
 *   <tr><td>activation</td><td>hidden_act</td><td>hidden_act</td><td>hidden_act</td><td>dense_act_fn</td></tr>
 *   <tr><td>other</td><td>router_jitter_noise</td><td>norm_topk_prob, shared_expert_intermediate_size</td>
 *       <td>n_group, topk_group, norm_topk_prob, routed_scaling_factor, n_shared_experts</td>
 *       <td>expert_capacity, router_bias, router_jitter_noise</td></tr>
 * </table>
 *
 * @param family                 the block family
 * @param hiddenSize             d
 * @param intermediateSize       f of each routed expert
 * @param numExperts             E
 * @param topK                   k
 * @param activation             the expert nonlinearity
 * @param gated                  whether experts are gated (GLU); false for Switch
 * @param normTopkProb           renormalise the top-k weights
 * @param nGroup                 DeepSeek-V3 expert groups (1 otherwise)
 * @param topkGroup              DeepSeek-V3 groups kept per token (1 otherwise)
 * @param routedScalingFactor    DeepSeek-V3 weight scale (1 otherwise)
 * @param sharedIntermediateSize f of the shared expert (0: none)
 * @param sharedExpertGate       whether the shared expert has a sigmoid gate (Qwen2-MoE)
 * @param expertCapacity         Switch {@code expert_capacity} (-1 otherwise)
 * @param routerBias             whether the Switch classifier has a bias
 * @param jitter                 router jitter noise (training only)
 */
public record HfMoeConfig(HfFamily family, int hiddenSize, int intermediateSize, int numExperts, int topK, ExpertActivation activation,
                          boolean gated, boolean normTopkProb, int nGroup, int topkGroup, double routedScalingFactor,
                          int sharedIntermediateSize, boolean sharedExpertGate, int expertCapacity, boolean routerBias, double jitter) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Validates the settings.
     *
     * @throws IllegalArgumentException for E &lt; 1, k outside [1, E], sizes below 1, a negative
     *         capacity, a bad group setting
     */
    public HfMoeConfig {
        if (family == null || activation == null) throw new IllegalArgumentException("config needs a family and an activation");
        if (numExperts < 1) throw new IllegalArgumentException(family.modelType() + " config: the number of experts must be >= 1, got " + numExperts);
        if (topK < 1) throw new IllegalArgumentException(family.modelType() + " config: num_experts_per_tok must be >= 1, got " + topK);
        if (topK > numExperts) {
            throw new IllegalArgumentException(family.modelType() + " config: num_experts_per_tok = " + topK + " exceeds the number of experts " + numExperts);
        }
        if (hiddenSize < 1 || intermediateSize < 1) {
            throw new IllegalArgumentException(family.modelType() + " config: sizes must be >= 1, got hidden " + hiddenSize + ", intermediate " + intermediateSize);
        }
        if (sharedIntermediateSize < 0) throw new IllegalArgumentException(family.modelType() + " config: negative shared expert size " + sharedIntermediateSize);
        if (family == HfFamily.SWITCH && expertCapacity < 0) {
            throw new IllegalArgumentException("switch_transformers config: expert_capacity must be >= 0, got " + expertCapacity);
        }
        if (nGroup < 1 || topkGroup < 1 || topkGroup > nGroup) {
            throw new IllegalArgumentException(family.modelType() + " config: need 1 <= topk_group <= n_group, got n_group " + nGroup + ", topk_group " + topkGroup);
        }
        if (numExperts % nGroup != 0) {
            throw new IllegalArgumentException(family.modelType() + " config: " + numExperts + " experts do not split into n_group = " + nGroup + " groups");
        }
        if (!Double.isFinite(routedScalingFactor)) throw new IllegalArgumentException(family.modelType() + " config: routed_scaling_factor must be finite");
        if (!(jitter >= 0 && jitter < 1)) throw new IllegalArgumentException(family.modelType() + " config: router_jitter_noise must lie in [0, 1), got " + jitter);
    }

    /**
     * Reads a config JSON (the family from {@code model_type}, or from {@code blockClass} when the JSON has none).
     *
     * @param json       the config as JSON text
     * @param blockClass the block's class name (a reference file's {@code class} metadata), or null
     * @throws IllegalArgumentException for malformed JSON, a missing or wrongly typed key, an
     *         unsupported model or activation, or inconsistent values
     */
    public static HfMoeConfig parse(String json, String blockClass) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("config is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("config JSON must be an object");
        String type = root.hasNonNull("model_type") ? root.get("model_type").asText() : blockClass;
        HfFamily family = HfFamily.of(type);
        Keys c = new Keys(root, family);
        return switch (family) {
            case MIXTRAL -> new HfMoeConfig(family, c.integer("hidden_size"), c.integer("intermediate_size"), c.integer("num_local_experts"),
                    c.integer("num_experts_per_tok"), ExpertActivation.fromHuggingFace(c.text("hidden_act", "silu")), true, true, 1, 1, 1.0,
                    0, false, -1, false, c.number("router_jitter_noise", 0.0));
            case QWEN2_MOE -> new HfMoeConfig(family, c.integer("hidden_size"), c.integer("moe_intermediate_size"), c.integer("num_experts"),
                    c.integer("num_experts_per_tok"), ExpertActivation.fromHuggingFace(c.text("hidden_act", "silu")), true,
                    c.bool("norm_topk_prob", false), 1, 1, 1.0, c.integer("shared_expert_intermediate_size", 0), true, -1, false,
                    c.number("router_jitter_noise", 0.0));
            case DEEPSEEK_V3 -> new HfMoeConfig(family, c.integer("hidden_size"), c.integer("moe_intermediate_size"), c.integer("n_routed_experts"),
                    c.integer("num_experts_per_tok"), ExpertActivation.fromHuggingFace(c.text("hidden_act", "silu")), true,
                    c.bool("norm_topk_prob", true), c.integer("n_group", 1), c.integer("topk_group", 1), c.number("routed_scaling_factor", 1.0),
                    c.integer("moe_intermediate_size") * c.integer("n_shared_experts", 0), false, -1, false, 0.0);
            case SWITCH -> {
                if (c.bool("is_gated_act", false)) throw new IllegalArgumentException("switch_transformers config: gated experts (is_gated_act) are not supported");
                yield new HfMoeConfig(family, c.integer(root.has("d_model") ? "d_model" : "hidden_size"), c.integer("d_ff"), c.integer("num_experts"), 1,
                        ExpertActivation.fromHuggingFace(c.text("dense_act_fn", "relu")), false, false, 1, 1, 1.0, 0, false,
                        c.integer("expert_capacity"), c.bool("router_bias", false), c.number("router_jitter_noise", 0.0));
            }
        };
    }

    /**
     * This config as Hugging Face config JSON (the keys {@link #parse} reads for the family), so that
     * a saved block can be read back.
     */
    public String toJson() {
        var o = JSON.createObjectNode();
        o.put("model_type", family.modelType());
        switch (family) {
            case MIXTRAL -> {
                o.put("hidden_size", hiddenSize).put("intermediate_size", intermediateSize).put("num_local_experts", numExperts)
                        .put("num_experts_per_tok", topK).put("hidden_act", activationName()).put("router_jitter_noise", jitter);
            }
            case QWEN2_MOE -> {
                o.put("hidden_size", hiddenSize).put("moe_intermediate_size", intermediateSize).put("num_experts", numExperts)
                        .put("num_experts_per_tok", topK).put("norm_topk_prob", normTopkProb)
                        .put("shared_expert_intermediate_size", sharedIntermediateSize).put("hidden_act", activationName())
                        .put("router_jitter_noise", jitter);
            }
            case DEEPSEEK_V3 -> {
                if (sharedIntermediateSize % intermediateSize != 0) {
                    throw new IllegalStateException("a DeepSeek-V3 shared expert size must be a multiple of moe_intermediate_size");
                }
                o.put("hidden_size", hiddenSize).put("moe_intermediate_size", intermediateSize).put("n_routed_experts", numExperts)
                        .put("num_experts_per_tok", topK).put("n_group", nGroup).put("topk_group", topkGroup).put("norm_topk_prob", normTopkProb)
                        .put("routed_scaling_factor", routedScalingFactor).put("n_shared_experts", sharedIntermediateSize / intermediateSize)
                        .put("hidden_act", activationName());
            }
            case SWITCH -> {
                o.put("d_model", hiddenSize).put("d_ff", intermediateSize).put("num_experts", numExperts).put("expert_capacity", expertCapacity)
                        .put("router_bias", routerBias).put("dense_act_fn", activationName()).put("router_jitter_noise", jitter);
            }
        }
        return o.toString();
    }

    private String activationName() {
        return switch (activation) {
            case SILU -> "silu";
            case GELU -> "gelu";
            case GELU_TANH -> "gelu_pytorch_tanh";
            case RELU -> "relu";
        };
    }

    /** Reads a {@code config.json} file. @throws IOException when it cannot be read */
    public static HfMoeConfig read(Path configJson) throws IOException {
        return parse(Files.readString(configJson), null);
    }

    /** Typed access to the keys of one config, with errors naming the key. */
    private record Keys(JsonNode root, HfFamily family) {
        JsonNode node(String key) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) throw new IllegalArgumentException(family.modelType() + " config lacks '" + key + "'");
            return n;
        }

        int integer(String key) {
            JsonNode n = node(key);
            if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new IllegalArgumentException(family.modelType() + " config: '" + key + "' must be an integer, got " + n);
            return n.intValue();
        }

        int integer(String key, int fallback) { return root.hasNonNull(key) ? integer(key) : fallback; }

        double number(String key, double fallback) {
            if (!root.hasNonNull(key)) return fallback;
            JsonNode n = root.get(key);
            if (!n.isNumber()) throw new IllegalArgumentException(family.modelType() + " config: '" + key + "' must be a number, got " + n);
            return n.doubleValue();
        }

        boolean bool(String key, boolean fallback) {
            if (!root.hasNonNull(key)) return fallback;
            JsonNode n = root.get(key);
            if (!n.isBoolean()) throw new IllegalArgumentException(family.modelType() + " config: '" + key + "' must be true or false, got " + n);
            return n.booleanValue();
        }

        String text(String key, String fallback) {
            if (!root.hasNonNull(key)) return fallback;
            JsonNode n = root.get(key);
            if (!n.isTextual()) throw new IllegalArgumentException(family.modelType() + " config: '" + key + "' must be a string, got " + n);
            return n.textValue();
        }
    }
}
