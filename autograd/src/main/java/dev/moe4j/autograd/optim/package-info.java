/**
 * Optimizers (SGD with momentum and Nesterov, Adam, AdamW), gradient clipping by global norm and
 * learning-rate schedules (linear warm-up, cosine decay).
 */
package dev.moe4j.autograd.optim;
