package dev.moe4j.tensor.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file: tensor entries in file order and the optional
 * {@code "__metadata__"} map.
 *
 * <pre>
 * {"__metadata__": {"format": "pt"},
 *  "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
 * </pre>
 *
 * {@link #parse} checks every rule of the format against the size of the data section, so that a
 * parsed header can be trusted: every byte range lies inside the data section, matches its dtype
 * and shape exactly, and no two non-empty ranges overlap. Gaps between ranges are allowed.
 * {@link #encode} writes a header the way the reference implementation does: compact JSON,
 * {@code "__metadata__"} first, padded with spaces to a multiple of 8 bytes so that the data section
 * starts 8-byte aligned.
 */
final class SafetensorsHeader {
    /** The metadata key of the header object. */
    static final String METADATA_KEY = "__metadata__";
    /** Largest header accepted, in bytes (the reference implementation's limit). */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Header lengths are padded to a multiple of this. */
    static final int ALIGNMENT = 8;

    private static final String ACCEPTED_DTYPES = acceptedDtypes();

    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    final List<TensorInfo> tensors;
    final Map<String, String> metadata;

    private SafetensorsHeader(List<TensorInfo> tensors, Map<String, String> metadata) {
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Parses and validates a header.
     *
     * @param json     the {@code N} header bytes (UTF-8 JSON, possibly padded with spaces)
     * @param dataSize bytes in the data section (file size - 8 - N)
     * @param source   the file, for messages
     * @throws SafetensorsException naming the rule broken and the tensor
     */
    static SafetensorsHeader parse(byte[] json, long dataSize, String source) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(source + ": header is not valid UTF-8", e);
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JacksonException e) {
            throw new SafetensorsException(source + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(source + ": header must be a JSON object, got "
                    + (root == null || root.isMissingNode() ? "nothing" : root.getNodeType().toString().toLowerCase()));
        }
        Map<String, String> metadata = Map.of();
        List<TensorInfo> tensors = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(e.getValue(), source);
            } else {
                tensors.add(parseEntry(e.getKey(), e.getValue(), dataSize, source));
            }
        }
        checkNoOverlap(tensors, source);
        return new SafetensorsHeader(Collections.unmodifiableList(tensors), metadata);
    }

    private static Map<String, String> parseMetadata(JsonNode node, String source) {
        if (node.isNull()) return Map.of();
        if (!node.isObject()) {
            throw new SafetensorsException(source + ": \"" + METADATA_KEY + "\" must be an object of string values, got "
                    + node.getNodeType().toString().toLowerCase());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsException(source + ": metadata value of key '" + e.getKey() + "' must be a string, got "
                        + e.getValue().getNodeType().toString().toLowerCase() + " " + abbreviate(e.getValue().toString()));
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static TensorInfo parseEntry(String name, JsonNode node, long dataSize, String source) {
        String where = source + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new SafetensorsException(where + ": entry must be an object with dtype, shape and data_offsets, got "
                    + node.getNodeType().toString().toLowerCase());
        }
        JsonNode dtypeNode = required(node, "dtype", where);
        if (!dtypeNode.isTextual()) {
            throw new SafetensorsException(where + ": \"dtype\" must be a string, got " + abbreviate(dtypeNode.toString()));
        }
        DType dtype = dtypeOf(dtypeNode.textValue());
        if (dtype == null) {
            throw new SafetensorsException(where + ": unknown dtype '" + abbreviate(dtypeNode.textValue()) + "'; accepted: " + ACCEPTED_DTYPES);
        }

        JsonNode shapeNode = required(node, "shape", where);
        if (!shapeNode.isArray()) {
            throw new SafetensorsException(where + ": \"shape\" must be an array of dims, got " + abbreviate(shapeNode.toString()));
        }
        int[] shape = new int[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber()) {
                throw new SafetensorsException(where + ": shape dim " + i + " must be an integer, got " + abbreviate(d.toString()));
            }
            if (!d.canConvertToLong() || d.longValue() < 0 || d.longValue() > Integer.MAX_VALUE) {
                throw new SafetensorsException(where + ": shape dim " + i + " is " + abbreviate(d.toString())
                        + "; dims must lie in [0, " + Integer.MAX_VALUE + "]");
            }
            shape[i] = d.intValue();
        }

        JsonNode offsetsNode = required(node, "data_offsets", where);
        if (!offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new SafetensorsException(where + ": \"data_offsets\" must be [begin, end], got " + abbreviate(offsetsNode.toString()));
        }
        long[] range = new long[2];
        for (int i = 0; i < 2; i++) {
            JsonNode o = offsetsNode.get(i);
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.longValue() < 0) {
                throw new SafetensorsException(where + ": \"data_offsets\" must hold two non-negative 64-bit integers, got "
                        + abbreviate(offsetsNode.toString()));
            }
            range[i] = o.longValue();
        }
        long begin = range[0], end = range[1];
        if (begin > end) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end + "] has begin > end");
        }
        if (end > dataSize) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end + "] reach outside the data section of "
                    + dataSize + " bytes");
        }
        long want = TensorInfo.byteCount(dtype, shape);
        if (want < 0) {
            throw new SafetensorsException(where + ": shape " + Shape.str(shape) + " of " + dtype + " has more than 2^63 bytes");
        }
        if (want != end - begin) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes, but shape " + Shape.str(shape) + " of " + dtype + " needs " + want
                    + " (numel " + (want / dtype.byteSize()) + " * " + dtype.byteSize() + ")");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonNode required(JsonNode entry, String field, String where) {
        JsonNode v = entry.get(field);
        if (v == null) throw new SafetensorsException(where + ": missing field \"" + field + "\"");
        return v;
    }

    private static void checkNoOverlap(List<TensorInfo> tensors, String source) {
        List<TensorInfo> byStart = new ArrayList<>();
        for (TensorInfo t : tensors) if (t.byteSize() > 0) byStart.add(t);
        byStart.sort(Comparator.comparingLong(TensorInfo::dataBegin));
        for (int i = 1; i < byStart.size(); i++) {
            TensorInfo a = byStart.get(i - 1), b = byStart.get(i);
            if (b.dataBegin() < a.dataEnd()) {
                throw new SafetensorsException(source + ": tensors '" + a.name() + "' [" + a.dataBegin() + ", " + a.dataEnd()
                        + ") and '" + b.name() + "' [" + b.dataBegin() + ", " + b.dataEnd() + ") overlap");
            }
        }
    }

    /** The dtype whose safetensors name is {@code name}, or null. */
    private static DType dtypeOf(String name) {
        for (DType t : DType.values()) {
            if (t.safetensorsName().equals(name)) return t;
        }
        return null;
    }

    private static String acceptedDtypes() {
        StringBuilder sb = new StringBuilder();
        for (DType t : DType.values()) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(t.safetensorsName());
        }
        return sb.toString();
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    /**
     * The header bytes for {@code tensors} (in the given order) and {@code metadata} (omitted when
     * empty): compact UTF-8 JSON padded with spaces to a multiple of {@link #ALIGNMENT} bytes.
     *
     * @throws SafetensorsException when the header would exceed {@link #MAX_HEADER_BYTES}
     */
    static byte[] encode(List<TensorInfo> tensors, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = root.putObject(METADATA_KEY);
            metadata.forEach(m::put);
        }
        for (TensorInfo t : tensors) {
            ObjectNode e = root.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = e.putArray("shape");
            for (int d : t.shape()) shape.add(d);
            e.putArray("data_offsets").add(t.dataBegin()).add(t.dataEnd());
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JacksonException e) {
            // a tree of strings and numbers always serialises; this would be a bug in the mapper
            throw new IllegalStateException("cannot serialise a safetensors header", e);
        }
        int padded = Math.ceilDiv(json.length, ALIGNMENT) * ALIGNMENT;
        if (padded > MAX_HEADER_BYTES) {
            throw new SafetensorsException("header of " + padded + " bytes exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
        }
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }
}
