package dev.moe4j.lora;

/**
 * How a new adapter's matrices start, as PEFT's {@code init_lora_weights}.
 *
 * <p>For A [r, in] and B [out, r]:
 * <ul>
 *   <li>{@link #KAIMING} ({@code init_lora_weights=True}, the default): A from
 *       {@code kaiming_uniform_(a = sqrt(5))}, which is uniform on [-1/sqrt(in), 1/sqrt(in)]
 *       (gain sqrt(2 / (1 + a^2)) = sqrt(1/3), bound = gain * sqrt(3 / fan_in)); B = 0, so the
 *       adapted layer starts equal to the base layer.</li>
 *   <li>{@link #GAUSSIAN} ({@code "gaussian"}): A normal with standard deviation 1/r; B = 0.</li>
 *   <li>{@link #RANDOM} ({@code init_lora_weights=False}): A and B both keep {@code nn.Linear}'s
 *       default, uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)] (fan_in = in for A, r for B), so the
 *       adapter changes the output from the start (PEFT uses this for tests).</li>
 * </ul>
 */
public enum LoraInit {
    /** A Kaiming-uniform (a = sqrt(5)), B zero. */
    KAIMING,
    /** A normal(0, 1/r), B zero. */
    GAUSSIAN,
    /** A and B both uniform as nn.Linear's default. */
    RANDOM;

    /** The value PEFT writes in {@code adapter_config.json}: {@code true}, {@code "gaussian"} or {@code false}. */
    public Object peftValue() {
        return switch (this) {
            case KAIMING -> Boolean.TRUE;
            case GAUSSIAN -> "gaussian";
            case RANDOM -> Boolean.FALSE;
        };
    }
}
