package dev.moe4j.moe.hf;

import dev.moe4j.moe.MoeLayer;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * A Hugging Face MoE block loaded into an {@link MoeLayer}, with the map from the block's parameter
 * names to the layer's tensors (so values and gradients can be read under Hugging Face names).
 *
 * @param config     the block's settings
 * @param layer      the layer
 * @param parameters Hugging Face name &rarr; location in the layer, in load order
 */
public record HfMoeBlock(HfMoeConfig config, MoeLayer layer, Map<String, HfParameter> parameters) {

    /** Copies the map. */
    public HfMoeBlock {
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    static HfMoeBlock of(HfMoeConfig config, MoeLayer layer, List<HfParameter> list) {
        Map<String, HfParameter> m = new LinkedHashMap<>();
        for (HfParameter p : list) m.put(p.name(), p);
        return new HfMoeBlock(config, layer, m);
    }

    /**
     * Writes the block as a Hugging Face checkpoint: every parameter and buffer under
     * {@code prefix + name}, and the config as the file's {@code config} metadata (with the block's
     * class as {@code class}), so that {@link HfMoeLoader#load(Path, Path, String, dev.moe4j.tensor.DType)}
     * reads it back.
     *
     * @throws IOException when the file cannot be written
     */
    public void save(Path file, String prefix) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (HfParameter p : parameters.values()) tensors.put(prefix + p.name(), p.value().contiguous());
        SafetensorsWriter.save(file, tensors, Map.of("config", config.toJson(), "class", config.family().blockClass()));
    }

    /**
     * The location of a Hugging Face name.
     *
     * @throws NoSuchElementException for a name the block does not have, listing the known ones
     */
    public HfParameter parameter(String name) {
        HfParameter p = parameters.get(name);
        if (p == null) throw new NoSuchElementException("the " + config.family().blockClass() + " block has no parameter '" + name + "'; it has " + parameters.keySet());
        return p;
    }
}
