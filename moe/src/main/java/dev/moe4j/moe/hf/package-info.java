/**
 * Hugging Face MoE blocks: {@link dev.moe4j.moe.hf.HfMoeConfig} reads the config JSON,
 * {@link dev.moe4j.moe.hf.HfMoeLoader} loads Mixtral, Qwen2-MoE, DeepSeek-V3 and Switch Transformers
 * blocks from safetensors into {@link dev.moe4j.moe.MoeLayer}s, and {@link dev.moe4j.moe.hf.HfMoeBlock}
 * maps the Hugging Face parameter names onto the layer (and saves it back).
 */
package dev.moe4j.moe.hf;
