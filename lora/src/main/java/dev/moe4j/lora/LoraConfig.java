package dev.moe4j.lora;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The settings of one adapter over a whole model, as PEFT's {@code LoraConfig}: which modules it
 * goes on and, per module, rank, alpha, dropout and variant.
 *
 * <p>The fields read from and written to {@code adapter_config.json} (see {@link PeftConfigJson}):
 * {@code r}, {@code lora_alpha}, {@code lora_dropout}, {@code use_rslora}, {@code use_dora},
 * {@code init_lora_weights}, {@code target_modules}, {@code exclude_modules}, {@code rank_pattern}
 * and {@code alpha_pattern}. A per-module rank or alpha comes from the first key of
 * {@code rank_pattern} / {@code alpha_pattern} (in insertion order) that matches the module's path
 * as PEFT's {@code get_pattern_key} does: the key, read as a regular expression, matches the whole
 * path or a '.'-separated suffix of it.
 *
 * <pre>{@code
 * LoraConfig cfg = LoraConfig.builder().r(8).alpha(16).targetModules("q_proj", "v_proj").build();
 * }</pre>
 */
public final class LoraConfig {
    private final AdapterSpec defaults;
    private final ModulePattern targetModules;
    private final ModulePattern excludeModules;
    private final Map<String, Integer> rankPattern;
    private final Map<String, Double> alphaPattern;

    private LoraConfig(Builder b) {
        this.defaults = new AdapterSpec(b.r, b.alpha, b.dropout, b.useRslora, b.useDora, b.init);
        if (b.targetModules == null) throw new IllegalArgumentException("a LoraConfig needs target modules");
        this.targetModules = b.targetModules;
        this.excludeModules = b.excludeModules;
        this.rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(b.rankPattern));
        this.alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(b.alphaPattern));
        for (Map.Entry<String, Integer> e : rankPattern.entrySet()) {
            checkPatternKey("rank_pattern", e.getKey());
            if (e.getValue() == null || e.getValue() < 1) {
                throw new IllegalArgumentException("rank_pattern['" + e.getKey() + "'] must be >= 1, got " + e.getValue());
            }
        }
        for (Map.Entry<String, Double> e : alphaPattern.entrySet()) {
            checkPatternKey("alpha_pattern", e.getKey());
            if (e.getValue() == null || !Double.isFinite(e.getValue())) {
                throw new IllegalArgumentException("alpha_pattern['" + e.getKey() + "'] must be finite, got " + e.getValue());
            }
        }
    }

    private static void checkPatternKey(String field, String key) {
        try {
            Pattern.compile(key);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(field + " key '" + key + "' is not a valid regular expression: " + e.getDescription(), e);
        }
    }

    /** A builder with PEFT's defaults: r = 8, lora_alpha = 8, no dropout, no rsLoRA or DoRA, Kaiming init. */
    public static Builder builder() { return new Builder(); }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.r = defaults.r();
        b.alpha = defaults.alpha();
        b.dropout = defaults.dropout();
        b.useRslora = defaults.useRslora();
        b.useDora = defaults.useDora();
        b.init = defaults.init();
        b.targetModules = targetModules;
        b.excludeModules = excludeModules;
        b.rankPattern.putAll(rankPattern);
        b.alphaPattern.putAll(alphaPattern);
        return b;
    }

    /** Default rank r. */
    public int r() { return defaults.r(); }

    /** Default lora_alpha. */
    public double alpha() { return defaults.alpha(); }

    /** lora_dropout. */
    public double dropout() { return defaults.dropout(); }

    /** use_rslora. */
    public boolean useRslora() { return defaults.useRslora(); }

    /** use_dora. */
    public boolean useDora() { return defaults.useDora(); }

    /** init_lora_weights. */
    public LoraInit init() { return defaults.init(); }

    /** target_modules. */
    public ModulePattern targetModules() { return targetModules; }

    /** exclude_modules, or null. */
    public ModulePattern excludeModules() { return excludeModules; }

    /** rank_pattern (read-only, insertion order). */
    public Map<String, Integer> rankPattern() { return rankPattern; }

    /** alpha_pattern (read-only, insertion order). */
    public Map<String, Double> alphaPattern() { return alphaPattern; }

    /**
     * True when the module at {@code path} is targeted: selected by target_modules and not by
     * exclude_modules.
     */
    public boolean targets(String path, boolean isLinear) {
        if (excludeModules != null && excludeModules.matches(path, isLinear)) return false;
        return targetModules.matches(path, isLinear);
    }

    /** The adapter settings for the module at {@code path}: the defaults with rank and alpha from the patterns. */
    public AdapterSpec specFor(String path) {
        AdapterSpec s = defaults;
        String rk = patternKey(rankPattern, path);
        if (rk != null) s = s.withR(rankPattern.get(rk));
        String ak = patternKey(alphaPattern, path);
        if (ak != null) s = s.withAlpha(alphaPattern.get(ak));
        return s;
    }

    /** The first key that matches the path or a dotted suffix of it (PEFT's get_pattern_key), or null. */
    static String patternKey(Map<String, ?> patterns, String path) {
        for (String key : patterns.keySet()) {
            if (Pattern.compile("(?:.*\\.)?(?:" + key + ")").matcher(path).matches()) return key;
        }
        return null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LoraConfig c && c.defaults.equals(defaults) && c.targetModules.equals(targetModules)
                && Objects.equals(c.excludeModules, excludeModules) && c.rankPattern.equals(rankPattern)
                && c.alphaPattern.equals(alphaPattern);
    }

    @Override
    public int hashCode() { return Objects.hash(defaults, targetModules, excludeModules, rankPattern, alphaPattern); }

    @Override
    public String toString() {
        return "LoraConfig(r=" + r() + ", lora_alpha=" + alpha() + ", lora_dropout=" + dropout() + ", use_rslora=" + useRslora()
                + ", use_dora=" + useDora() + ", init=" + init() + ", target_modules=" + targetModules
                + (excludeModules != null ? ", exclude_modules=" + excludeModules : "")
                + (rankPattern.isEmpty() ? "" : ", rank_pattern=" + rankPattern)
                + (alphaPattern.isEmpty() ? "" : ", alpha_pattern=" + alphaPattern) + ")";
    }

    /** Builds a {@link LoraConfig}; every setter returns the builder. */
    public static final class Builder {
        private int r = 8;
        private double alpha = 8;
        private double dropout = 0;
        private boolean useRslora, useDora;
        private LoraInit init = LoraInit.KAIMING;
        private ModulePattern targetModules, excludeModules;
        private final Map<String, Integer> rankPattern = new LinkedHashMap<>();
        private final Map<String, Double> alphaPattern = new LinkedHashMap<>();

        private Builder() {}

        /** Rank r. */
        public Builder r(int v) { r = v; return this; }
        /** lora_alpha. */
        public Builder alpha(double v) { alpha = v; return this; }
        /** lora_dropout. */
        public Builder dropout(double v) { dropout = v; return this; }
        /** use_rslora. */
        public Builder useRslora(boolean v) { useRslora = v; return this; }
        /** use_dora. */
        public Builder useDora(boolean v) { useDora = v; return this; }
        /** init_lora_weights. */
        public Builder init(LoraInit v) { init = v; return this; }
        /** target_modules as names (exact or dotted-suffix match). */
        public Builder targetModules(String... names) { targetModules = ModulePattern.names(names); return this; }
        /** target_modules as one regular expression over whole paths ("all-linear" is understood). */
        public Builder targetModulesRegex(String regex) { targetModules = ModulePattern.regex(regex); return this; }
        /** target_modules. */
        public Builder targetModules(ModulePattern p) { targetModules = p; return this; }
        /** exclude_modules (null: none). */
        public Builder excludeModules(ModulePattern p) { excludeModules = p; return this; }
        /** One rank_pattern entry. */
        public Builder rankPattern(String key, int rank) { rankPattern.put(key, rank); return this; }
        /** One alpha_pattern entry. */
        public Builder alphaPattern(String key, double a) { alphaPattern.put(key, a); return this; }

        /**
         * The config.
         *
         * @throws IllegalArgumentException for a bad value (named)
         */
        public LoraConfig build() { return new LoraConfig(this); }
    }
}
