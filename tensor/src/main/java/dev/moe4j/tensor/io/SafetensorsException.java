package dev.moe4j.tensor.io;

/**
 * A safetensors file (or a set of tensors about to be saved as one) breaks the format: a header
 * length past the end of the file, JSON that is not an object of tensor entries, an unknown dtype, a
 * shape whose element count does not match its byte range, overlapping byte ranges, and so on.
 *
 * <p>It is an {@link IllegalArgumentException}, as for every other bad input in moe4j: the content
 * is at fault, not the file system. Failures of the file system itself (missing file, no
 * permission, disk full) stay {@link java.io.IOException}s. The message always names the file, the
 * tensor where one is involved, and the rule that was broken.
 */
public class SafetensorsException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** An exception with {@code message}. */
    public SafetensorsException(String message) {
        super(message);
    }

    /** An exception with {@code message}, caused by {@code cause} (for example a JSON syntax error). */
    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
