package dev.moe4j.lora;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How many LoRA experts each adapted layer gets: MoLA's layer-wise expert allocation (Gao et al.
 * 2024, "Higher Layers Need More LoRA Experts"; "MoLA: MoE LoRA with Layer-wise Expert
 * Allocation"). MoLA keeps the router of MixLoRA (top-k, k = 2) and varies the number of experts N
 * with depth; the paper's four shapes split the L transformer layers into four equal groups and give
 * the groups, bottom to top, for example:
 * <pre>
 *   MoLA-triangle           2, 4, 6, 8     (more experts in higher layers)
 *   MoLA-inverted triangle  8, 6, 4, 2
 *   MoLA-hourglass/diamond  counts peaking or dipping in the middle groups
 *   MoLA-rectangle          the same N everywhere ({@link #uniform})
 * </pre>
 * ({@code groups(32, 2, 4, 6, 8)} is the triangle for a 32-layer model.)
 *
 * <p>A module's layer index is the first all-digit component of its dotted path
 * ({@code "model.layers.12.mlp.up_proj"} &rarr; 12). Patterns ({@link #withPattern}) override the
 * layer rule and match as PEFT's {@code rank_pattern} keys do: a regular expression matched against
 * the whole path or a dotted suffix of it. An allocation is immutable.
 */
public final class ExpertAllocation {
    private final int uniform;             // > 0: every layer; 0: by layer index
    private final int[] perLayer;          // counts by layer index, or null
    private final int numLayers;           // for groups: L; else 0
    private final Map<String, Integer> patterns;

    private ExpertAllocation(int uniform, int[] perLayer, int numLayers, Map<String, Integer> patterns) {
        this.uniform = uniform;
        this.perLayer = perLayer;
        this.numLayers = numLayers;
        this.patterns = patterns;
    }

    private static void checkCount(int n) {
        if (n < 1) throw new IllegalArgumentException("every layer needs N >= 1 LoRA experts, got " + n);
    }

    /**
     * N experts in every layer.
     *
     * @throws IllegalArgumentException for N &lt; 1
     */
    public static ExpertAllocation uniform(int n) {
        checkCount(n);
        return new ExpertAllocation(n, null, 0, Map.of());
    }

    /**
     * {@code counts[i]} experts in layer i.
     *
     * @throws IllegalArgumentException for no counts or a count &lt; 1
     */
    public static ExpertAllocation perLayer(int... counts) {
        if (counts == null || counts.length == 0) throw new IllegalArgumentException("per-layer expert counts must not be empty");
        for (int c : counts) checkCount(c);
        return new ExpertAllocation(0, counts.clone(), 0, Map.of());
    }

    /**
     * The L layers split into G = {@code perGroup.length} groups of equal size (layer i in group
     * {@code floor(i * G / L)}), group g with {@code perGroup[g]} experts.
     *
     * @throws IllegalArgumentException for L &lt; G, no groups, or a count &lt; 1
     */
    public static ExpertAllocation groups(int numLayers, int... perGroup) {
        if (perGroup == null || perGroup.length == 0) throw new IllegalArgumentException("group expert counts must not be empty");
        if (numLayers < perGroup.length) throw new IllegalArgumentException(numLayers + " layers cannot form " + perGroup.length + " groups");
        for (int c : perGroup) checkCount(c);
        int[] counts = new int[numLayers];
        for (int i = 0; i < numLayers; i++) counts[i] = perGroup[(int) ((long) i * perGroup.length / numLayers)];
        return new ExpertAllocation(0, counts, numLayers, Map.of());
    }

    /**
     * This allocation with modules whose path matches {@code key} (whole path or dotted suffix,
     * regular expression) getting N experts; earlier patterns win.
     *
     * @throws IllegalArgumentException for an empty key or N &lt; 1
     */
    public ExpertAllocation withPattern(String key, int n) {
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("pattern key must not be empty");
        checkCount(n);
        Map<String, Integer> p = new LinkedHashMap<>(patterns);
        p.putIfAbsent(key, n);
        return new ExpertAllocation(uniform, perLayer, numLayers, Collections.unmodifiableMap(p));
    }

    /** The layer index of a dotted path: its first all-digit component, or -1. */
    public static int layerIndex(String path) {
        for (String part : path.split("\\.")) {
            if (!part.isEmpty() && part.chars().allMatch(Character::isDigit)) {
                try {
                    return Integer.parseInt(part);
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
        }
        return -1;
    }

    /**
     * N for the module at {@code path}.
     *
     * @throws IllegalArgumentException when no pattern matches and the path has no layer index or an
     *         index the per-layer counts do not cover
     */
    public int expertsFor(String path) {
        String key = LoraConfig.patternKey(patterns, path);
        if (key != null) return patterns.get(key);
        if (uniform > 0) return uniform;
        int i = layerIndex(path);
        if (i < 0) throw new IllegalArgumentException("module '" + path + "' has no layer index in its path and matches no expert-count pattern");
        if (i >= perLayer.length) {
            throw new IllegalArgumentException("module '" + path + "' is in layer " + i + ", but expert counts are given for " + perLayer.length + " layers");
        }
        return perLayer[i];
    }

    @Override
    public String toString() {
        String base = uniform > 0 ? "uniform(" + uniform + ")" : (numLayers > 0 ? "groups" : "perLayer") + Arrays.toString(perLayer);
        return "ExpertAllocation(" + base + (patterns.isEmpty() ? "" : ", patterns=" + patterns) + ")";
    }
}
