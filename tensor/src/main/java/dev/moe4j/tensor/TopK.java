package dev.moe4j.tensor;

/**
 * Result of {@link Tensor#topk}: the selected values and their indices (I64) along the dim.
 *
 * @param values  the k largest (or smallest) values, sorted
 * @param indices their positions along the dim; among equal values the lower index comes first
 */
public record TopK(Tensor values, Tensor indices) {}
