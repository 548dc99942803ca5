/**
 * Reading and writing the safetensors format: an 8-byte little-endian header length, a JSON header
 * mapping tensor names to dtype, shape and byte range (plus an optional string map under
 * {@code "__metadata__"}), then the raw little-endian element bytes.
 *
 * <ul>
 *   <li>{@link dev.moe4j.tensor.io.SafetensorsFile}: memory-mapped reading, one tensor at a time.</li>
 *   <li>{@link dev.moe4j.tensor.io.SafetensorsWriter}: streaming, atomic writing.</li>
 *   <li>{@link dev.moe4j.tensor.io.TensorInfo}: one header entry.</li>
 *   <li>{@link dev.moe4j.tensor.io.SafetensorsException}: content that breaks the format.</li>
 * </ul>
 */
package dev.moe4j.tensor.io;
