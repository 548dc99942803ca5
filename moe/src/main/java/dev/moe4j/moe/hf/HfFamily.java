package dev.moe4j.moe.hf;

import java.util.Locale;

/** The Hugging Face MoE blocks the loaders read. */
public enum HfFamily {
    /** {@code MixtralSparseMoeBlock}: softmax top-k renormalised, SwiGLU experts. */
    MIXTRAL("mixtral", "MixtralSparseMoeBlock"),
    /** {@code Qwen2MoeSparseMoeBlock}: softmax top-k (optionally renormalised), sigmoid-gated shared expert. */
    QWEN2_MOE("qwen2_moe", "Qwen2MoeSparseMoeBlock"),
    /** {@code DeepseekV3MoE}: sigmoid, group-limited top-k, correction bias, scaling, shared experts. */
    DEEPSEEK_V3("deepseek_v3", "DeepseekV3MoE"),
    /** {@code SwitchTransformersSparseMLP}: top-1 with expert capacity, ReLU/GELU experts. */
    SWITCH("switch_transformers", "SwitchTransformersSparseMLP");

    private final String modelType, blockClass;

    HfFamily(String modelType, String blockClass) {
        this.modelType = modelType;
        this.blockClass = blockClass;
    }

    /** The config's {@code model_type}. */
    public String modelType() { return modelType; }

    /** The Python class of the MoE block. */
    public String blockClass() { return blockClass; }

    /**
     * The family of a {@code model_type} or block class name.
     *
     * @throws IllegalArgumentException for any other name, listing the supported ones
     */
    public static HfFamily of(String name) {
        if (name != null) {
            for (HfFamily f : values()) {
                if (f.modelType.equals(name.toLowerCase(Locale.ROOT)) || f.blockClass.equals(name)) return f;
            }
        }
        throw new IllegalArgumentException("unsupported MoE model '" + name + "'; supported model types: mixtral, qwen2_moe, deepseek_v3,"
                + " switch_transformers (blocks MixtralSparseMoeBlock, Qwen2MoeSparseMoeBlock, DeepseekV3MoE, SwitchTransformersSparseMLP)");
    }
}
