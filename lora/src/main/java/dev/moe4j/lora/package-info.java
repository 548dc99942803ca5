/**
 * Low-rank adapters: LoRA, rsLoRA and DoRA on linear layers as PEFT computes them, PEFT adapter
 * folders, several adapters per layer and per batch, LoRA on fused expert weights, and mixtures of
 * LoRA experts.
 *
 * <h2>Layers</h2>
 * <ul>
 *   <li>{@link dev.moe4j.lora.LoraLinear}: a frozen {@code Linear} plus named adapters
 *       ({@link dev.moe4j.lora.AdapterSpec}: rank, alpha, dropout, rsLoRA, DoRA, init); active set,
 *       enable/disable, merge/unmerge, mixed batches.</li>
 *   <li>{@link dev.moe4j.lora.LoraModel}: adapters attached to the linear layers of a model by
 *       target-module patterns ({@link dev.moe4j.lora.LoraConfig},
 *       {@link dev.moe4j.lora.ModulePattern}); PEFT folders in and out
 *       ({@link dev.moe4j.lora.PeftConfigJson}, {@code adapter_model.safetensors}).</li>
 *   <li>{@link dev.moe4j.lora.SegmentedLora}: many adapters in one batch (Punica, S-LoRA): tokens
 *       grouped by adapter id, shrink and expand as grouped GEMMs.</li>
 *   <li>{@link dev.moe4j.lora.ExpertLora}: per-expert LoRA on the fused expert weights of an MoE
 *       layer, over its routing plan (PERFT).</li>
 *   <li>{@link dev.moe4j.lora.MixLoraLinear} (top-k), {@link dev.moe4j.lora.SiraLinear} (top-k,
 *       capacity, expert dropout), {@link dev.moe4j.lora.AdaMoleLinear} (learned threshold),
 *       {@link dev.moe4j.lora.LoraMoeLinear} (soft, localized balancing): mixtures of LoRA experts
 *       ({@link dev.moe4j.lora.LoraExpertBank}) on a frozen layer.</li>
 *   <li>{@link dev.moe4j.lora.DynMoleLinear} (Tsallis-entropy hybrid soft / top-p routing),
 *       {@link dev.moe4j.lora.MixtureOfRoutersLinear} (sub-routers weighed by a main router),
 *       {@link dev.moe4j.lora.LoraEnsembleLinear} (weighted ensemble of adapters): more mixtures
 *       on the same bank.</li>
 *   <li>{@link dev.moe4j.lora.LoraMixtureModel} with {@link dev.moe4j.lora.ExpertAllocation}:
 *       mixtures on a model's layers with a number of experts per layer (MoLA).</li>
 *   <li>{@link dev.moe4j.lora.MiLoraLayer} ({@link dev.moe4j.lora.MiLoraLinear},
 *       {@link dev.moe4j.lora.PromptRouter}): the LoRA modules of a block as experts, routed once
 *       per prompt and cached by sequence (MiLoRA).</li>
 *   <li>{@link dev.moe4j.lora.SMoreLinear}: hierarchical low-rank residual experts routed as a
 *       tree (S'MoRE).</li>
 *   <li>{@link dev.moe4j.lora.merge}: merging LoRA updates (linear, concatenation, TIES) and
 *       upcycling dense layers into MoE layers and back.</li>
 * </ul>
 *
 * <h2>Attaching to a model</h2>
 * Java fields cannot be swapped as PyTorch attributes are, so an adapter layer does not replace the
 * model's {@code Linear}: it wraps it and becomes its forward override
 * ({@link dev.moe4j.autograd.nn.Linear#setForwardOverride}); the model's code keeps calling its
 * {@code Linear} and runs the adapted layer. The experts of an MoE layer are adapted the same way
 * ({@link dev.moe4j.moe.experts.GroupedExperts#setForwardOverride}).
 *
 * <pre>{@code
 * LoraModel peft = LoraModel.fromPretrained(model, Path.of("my_adapter"));   // PEFT folder
 * Tensor y = model.forward(x);                                               // adapted
 * LoraModel lm = LoraModel.attach(model, LoraConfig.builder().r(16).alpha(32)
 *         .targetModules("q_proj", "v_proj").build(), new Generator(0));     // new adapter
 * Optimizer opt = new AdamW(lm.trainableParameters(), 1e-4);
 * lm.saveAdapter(Path.of("out"), "default");
 * }</pre>
 */
package dev.moe4j.lora;
