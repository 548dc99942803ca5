/**
 * Layers as trees of named parameters ({@link dev.moe4j.autograd.nn.Module}): Linear, Embedding,
 * LayerNorm, RMSNorm, Dropout, the SwiGLU MLP, Sequential; state dicts to and from safetensors with
 * the names PyTorch gives the same modules.
 */
package dev.moe4j.autograd.nn;
