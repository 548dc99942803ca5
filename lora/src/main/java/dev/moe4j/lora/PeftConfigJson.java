package dev.moe4j.lora;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads and writes PEFT's {@code adapter_config.json} for LoRA adapters.
 *
 * <h2>Fields</h2>
 * <ul>
 *   <li>Understood: {@code peft_type} (must be "LORA"), {@code r}, {@code lora_alpha},
 *       {@code lora_dropout}, {@code use_rslora}, {@code use_dora}, {@code init_lora_weights}
 *       (true, false or "gaussian"), {@code target_modules} (a list of names or one regex string,
 *       "all-linear" included), {@code exclude_modules}, {@code rank_pattern},
 *       {@code alpha_pattern}.</li>
 *   <li>Informational, ignored: {@code base_model_name_or_path}, {@code revision},
 *       {@code task_type}, {@code inference_mode}, {@code auto_mapping}, {@code peft_version},
 *       {@code megatron_core}, {@code qalora_group_size} (read only with use_qalora),
 *       {@code runtime_config}.</li>
 *   <li>Every other field must hold its default: {@code bias} "none", anything else null, false,
 *       an empty object or an empty list. A config that sets such a field (modules_to_save,
 *       fan_in_fan_out, layers_to_transform, use_qalora, target_parameters, a LoftQ or EVA config,
 *       ...) is rejected with {@link IllegalArgumentException} naming every such field and its
 *       value, since loading it as plain LoRA would compute something else.</li>
 * </ul>
 * Written files hold the understood fields plus PEFT's defaults for the common others, keys sorted
 * and indented by two spaces as PEFT writes them, so that PEFT reads them back.
 */
public final class PeftConfigJson {
    private PeftConfigJson() {}

    /** The file name inside an adapter folder. */
    public static final String FILE_NAME = "adapter_config.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private static final Set<String> UNDERSTOOD = Set.of("peft_type", "r", "lora_alpha", "lora_dropout", "use_rslora", "use_dora",
            "init_lora_weights", "target_modules", "exclude_modules", "rank_pattern", "alpha_pattern");
    private static final Set<String> IGNORED = Set.of("base_model_name_or_path", "revision", "task_type", "inference_mode",
            "auto_mapping", "peft_version", "megatron_core", "qalora_group_size", "runtime_config");

    /**
     * Reads {@code adapter_config.json} from an adapter folder (or the file itself).
     *
     * @throws IOException when it cannot be read
     * @throws IllegalArgumentException for malformed JSON, a missing or ill-typed field, or fields we
     *         do not support set to non-default values (all of them named)
     */
    public static LoraConfig read(Path folderOrFile) throws IOException {
        Path file = Files.isDirectory(folderOrFile) ? folderOrFile.resolve(FILE_NAME) : folderOrFile;
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("no " + FILE_NAME + " at " + file);
        return parse(Files.readString(file), file.toString());
    }

    /**
     * Parses the JSON text of an adapter config.
     *
     * @param json   the text
     * @param source where it came from, for messages
     * @throws IllegalArgumentException as {@link #read}
     */
    public static LoraConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(source + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException(source + ": an adapter config must be a JSON object");

        List<String> unsupported = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String k = e.getKey();
            if (UNDERSTOOD.contains(k) || IGNORED.contains(k)) continue;
            JsonNode v = e.getValue();
            boolean isDefault = k.equals("bias") ? v.isTextual() && v.asText().equals("none") : isDefaultLike(v);
            if (!isDefault) unsupported.add(k + "=" + v);
        }
        if (root.path("use_qalora").asBoolean(false) && !unsupported.contains("use_qalora=true")) unsupported.add("use_qalora=true");
        if (!unsupported.isEmpty()) {
            throw new IllegalArgumentException(source + ": the adapter config sets fields this LoRA implementation does not support: "
                    + String.join(", ", unsupported) + " (they must be absent or hold PEFT's default)");
        }

        JsonNode type = root.get("peft_type");
        if (type != null && !type.isNull() && !type.asText().equals("LORA")) {
            throw new IllegalArgumentException(source + ": peft_type is " + type + ", only \"LORA\" adapters are supported");
        }
        LoraConfig.Builder b = LoraConfig.builder();
        b.r(intField(root, "r", 8, source));
        b.alpha(numberField(root, "lora_alpha", 8, source));
        b.dropout(numberField(root, "lora_dropout", 0, source));
        b.useRslora(boolField(root, "use_rslora", source));
        b.useDora(boolField(root, "use_dora", source));
        b.init(initField(root.get("init_lora_weights"), source));
        JsonNode targets = root.get("target_modules");
        if (targets == null || targets.isNull()) throw new IllegalArgumentException(source + ": target_modules is missing");
        b.targetModules(pattern(targets, "target_modules", source));
        JsonNode exclude = root.get("exclude_modules");
        if (exclude != null && !exclude.isNull() && !(exclude.isArray() && exclude.isEmpty())) b.excludeModules(pattern(exclude, "exclude_modules", source));
        JsonNode rp = root.get("rank_pattern");
        if (rp != null && !rp.isNull()) {
            if (!rp.isObject()) throw new IllegalArgumentException(source + ": rank_pattern must be an object, got " + rp);
            for (Iterator<Map.Entry<String, JsonNode>> it = rp.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().canConvertToExactIntegral()) {
                    throw new IllegalArgumentException(source + ": rank_pattern['" + e.getKey() + "'] must be an integer, got " + e.getValue());
                }
                b.rankPattern(e.getKey(), e.getValue().asInt());
            }
        }
        JsonNode ap = root.get("alpha_pattern");
        if (ap != null && !ap.isNull()) {
            if (!ap.isObject()) throw new IllegalArgumentException(source + ": alpha_pattern must be an object, got " + ap);
            for (Iterator<Map.Entry<String, JsonNode>> it = ap.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isNumber()) {
                    throw new IllegalArgumentException(source + ": alpha_pattern['" + e.getKey() + "'] must be a number, got " + e.getValue());
                }
                b.alphaPattern(e.getKey(), e.getValue().asDouble());
            }
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    /** null, false, {} or [] (or an object of such values). */
    private static boolean isDefaultLike(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) return true;
        if (v.isBoolean()) return !v.asBoolean();
        if (v.isArray()) return v.isEmpty();
        if (v.isObject()) {
            for (Iterator<JsonNode> it = v.elements(); it.hasNext(); ) if (!isDefaultLike(it.next())) return false;
            return true;
        }
        return false;
    }

    private static int intField(JsonNode root, String name, int dflt, String source) {
        JsonNode v = root.get(name);
        if (v == null || v.isNull()) return dflt;
        if (!v.canConvertToExactIntegral()) throw new IllegalArgumentException(source + ": " + name + " must be an integer, got " + v);
        return v.asInt();
    }

    private static double numberField(JsonNode root, String name, double dflt, String source) {
        JsonNode v = root.get(name);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) throw new IllegalArgumentException(source + ": " + name + " must be a number, got " + v);
        return v.asDouble();
    }

    private static boolean boolField(JsonNode root, String name, String source) {
        JsonNode v = root.get(name);
        if (v == null || v.isNull()) return false;
        if (!v.isBoolean()) throw new IllegalArgumentException(source + ": " + name + " must be true or false, got " + v);
        return v.asBoolean();
    }

    private static LoraInit initField(JsonNode v, String source) {
        if (v == null || v.isNull()) return LoraInit.KAIMING;
        if (v.isBoolean()) return v.asBoolean() ? LoraInit.KAIMING : LoraInit.RANDOM;
        if (v.isTextual() && v.asText().equals("gaussian")) return LoraInit.GAUSSIAN;
        throw new IllegalArgumentException(source + ": init_lora_weights=" + v + " is not supported (only true, false and \"gaussian\";"
                + " PiSSA, OLoRA, LoftQ, EVA and CorDA change the base weights)");
    }

    private static ModulePattern pattern(JsonNode v, String field, String source) {
        if (v.isTextual()) return ModulePattern.regex(v.asText());
        if (v.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode n : v) {
                if (!n.isTextual()) throw new IllegalArgumentException(source + ": " + field + " entries must be strings, got " + n);
                names.add(n.asText());
            }
            if (names.isEmpty()) throw new IllegalArgumentException(source + ": " + field + " is empty");
            return ModulePattern.names(names);
        }
        throw new IllegalArgumentException(source + ": " + field + " must be a list of names or a regex string, got " + v);
    }

    // ------------------------------------------------------------------ writing

    /** The JSON text PEFT would write for {@code config} (sorted keys, two-space indent). */
    public static String toJson(LoraConfig config) {
        Map<String, Object> m = new TreeMap<>();
        m.put("alpha_pattern", config.alphaPattern());
        m.put("base_model_name_or_path", null);
        m.put("bias", "none");
        m.put("exclude_modules", config.excludeModules() == null ? null : config.excludeModules().peftValue());
        m.put("fan_in_fan_out", false);
        m.put("inference_mode", true);
        m.put("init_lora_weights", config.init().peftValue());
        m.put("layers_pattern", null);
        m.put("layers_to_transform", null);
        m.put("lora_alpha", integralOrDouble(config.alpha()));
        m.put("lora_dropout", config.dropout());
        m.put("modules_to_save", null);
        m.put("peft_type", "LORA");
        m.put("r", config.r());
        m.put("rank_pattern", config.rankPattern());
        m.put("revision", null);
        m.put("target_modules", config.targetModules().peftValue());
        m.put("task_type", null);
        m.put("use_dora", config.useDora());
        m.put("use_rslora", config.useRslora());
        ObjectNode node = JSON.valueToTree(m);
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write an adapter config as JSON", e);
        }
    }

    private static Object integralOrDouble(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? (Object) (long) v : (Object) v;
    }

    /** Writes {@link #toJson} to {@code folder/adapter_config.json}. */
    public static void write(Path folder, LoraConfig config) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve(FILE_NAME), toJson(config));
    }
}
