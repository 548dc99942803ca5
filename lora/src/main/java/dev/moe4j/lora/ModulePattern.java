package dev.moe4j.lora;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which modules of a tree an adapter goes on (PEFT's {@code target_modules}) or stays off
 * ({@code exclude_modules}), matched against dotted module paths such as
 * {@code "layers.0.self_attn.q_proj"}, as PEFT matches them:
 * <ul>
 *   <li>{@link #names}: a path matches when it equals a name or ends with {@code "." + name}
 *       ({@code "q_proj"} matches every {@code *.q_proj}; {@code "0.self_attn.q_proj"} one of them);</li>
 *   <li>{@link #regex}: a path matches when the whole path matches the regular expression (Python's
 *       {@code re.fullmatch}; the patterns PEFT users write are valid Java regexes);</li>
 *   <li>{@link #allLinear}: every {@code Linear} layer except one named {@code lm_head} (PEFT's
 *       {@code "all-linear"}, which leaves out the output layer).</li>
 * </ul>
 */
public final class ModulePattern {
    /** The kind of pattern. */
    public enum Kind {
        /** A list of names, each matched exactly or as a '.'-separated suffix. */
        NAMES,
        /** One regular expression matched against the whole path. */
        REGEX,
        /** PEFT's "all-linear". */
        ALL_LINEAR
    }

    /** PEFT's spelling of {@link Kind#ALL_LINEAR}. */
    public static final String ALL_LINEAR = "all-linear";

    private final Kind kind;
    private final List<String> names;
    private final Pattern regex;

    private ModulePattern(Kind kind, List<String> names, Pattern regex) {
        this.kind = kind;
        this.names = names;
        this.regex = regex;
    }

    /**
     * Names matched exactly or as a dotted suffix.
     *
     * @throws IllegalArgumentException for no names, or a null or empty name
     */
    public static ModulePattern names(List<String> names) {
        if (names == null || names.isEmpty()) throw new IllegalArgumentException("target module names must not be empty");
        for (String n : names) {
            if (n == null || n.isEmpty()) throw new IllegalArgumentException("target module names must be non-empty, got " + names);
        }
        return new ModulePattern(Kind.NAMES, List.copyOf(new java.util.LinkedHashSet<>(names)), null);
    }

    /** Names matched exactly or as a dotted suffix. */
    public static ModulePattern names(String... names) { return names(List.of(names)); }

    /**
     * A regular expression matched against whole paths; {@code "all-linear"} gives {@link #allLinear()}.
     *
     * @throws IllegalArgumentException for an invalid expression (with the parser's message)
     */
    public static ModulePattern regex(String regex) {
        if (regex == null || regex.isEmpty()) throw new IllegalArgumentException("target module regex must not be empty");
        if (regex.equals(ALL_LINEAR)) return allLinear();
        try {
            return new ModulePattern(Kind.REGEX, List.of(), Pattern.compile(regex));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("target module regex '" + regex + "' is invalid: " + e.getDescription(), e);
        }
    }

    /** Every Linear layer except {@code lm_head}. */
    public static ModulePattern allLinear() { return new ModulePattern(Kind.ALL_LINEAR, List.of(), null); }

    /** The kind. */
    public Kind kind() { return kind; }

    /** The names (empty unless {@link Kind#NAMES}). */
    public List<String> names() { return Collections.unmodifiableList(names); }

    /** The expression (null unless {@link Kind#REGEX}). */
    public String regex() { return regex == null ? null : regex.pattern(); }

    /**
     * True when the module at {@code path} is selected.
     *
     * @param path     dotted path of the module in the tree
     * @param isLinear whether that module is a linear layer (only {@link Kind#ALL_LINEAR} reads it)
     */
    public boolean matches(String path, boolean isLinear) {
        return switch (kind) {
            case NAMES -> matchingName(path) != null;
            case REGEX -> regex.matcher(path).matches();
            case ALL_LINEAR -> isLinear && !(path.equals("lm_head") || path.endsWith(".lm_head"));
        };
    }

    /** The first name that selects {@code path} (exact or suffix), or null; for {@link Kind#NAMES}. */
    public String matchingName(String path) {
        for (String n : names) {
            if (path.equals(n) || path.endsWith("." + n)) return n;
        }
        return null;
    }

    /**
     * The names of a {@link Kind#NAMES} pattern that select none of {@code paths} (empty for the
     * other kinds).
     */
    public List<String> unmatchedNames(Iterable<String> paths) {
        List<String> out = new ArrayList<>();
        for (String n : names) {
            boolean found = false;
            for (String p : paths) {
                if (p.equals(n) || p.endsWith("." + n)) { found = true; break; }
            }
            if (!found) out.add(n);
        }
        return out;
    }

    /** The value as PEFT writes it: a list of names or one string. */
    public Object peftValue() {
        return switch (kind) {
            case NAMES -> names;
            case REGEX -> regex.pattern();
            case ALL_LINEAR -> ALL_LINEAR;
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModulePattern m && m.kind == kind && m.names.equals(names)
                && java.util.Objects.equals(regex(), m.regex());
    }

    @Override
    public int hashCode() { return java.util.Objects.hash(kind, names, regex()); }

    @Override
    public String toString() { return kind == Kind.NAMES ? names.toString() : String.valueOf(peftValue()); }
}
