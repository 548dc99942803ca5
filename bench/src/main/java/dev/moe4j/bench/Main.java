package dev.moe4j.bench;

import java.util.Arrays;

/**
 * The project's main job (the README's first command).
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.moe4j.bench.Main [command] [options]
 * </pre>
 * Commands:
 * <ul>
 *   <li>{@code train} (default): trains a small MoE layer for about a minute and compares balancing
 *       mechanisms ({@link TrainMoe}; {@code train --help} lists the options);</li>
 *   <li>{@code walkthrough}: one MoE layer on a small batch, every stage printed as its kernel sees it
 *       ({@link Walkthrough}; {@code walkthrough --help} lists the options);</li>
 *   <li>{@code demo}: the tensor tour and a timed matrix product ({@link TensorDemo}).</li>
 * </ul>
 */
public final class Main {
    private Main() {}

    /** Dispatches to the command named by the first argument. */
    public static void main(String[] args) {
        String command = args.length == 0 || args[0].startsWith("-") ? "train" : args[0];
        String[] rest = args.length == 0 || args[0].startsWith("-") ? args : Arrays.copyOfRange(args, 1, args.length);
        switch (command) {
            case "train" -> TrainMoe.main(rest);
            case "demo" -> TensorDemo.main(rest);
            case "walkthrough" -> Walkthrough.main(rest);
            default -> {
                System.err.println("unknown command '" + command + "'; accepted: train, walkthrough, demo");
                System.exit(2);
            }
        }
    }
}
