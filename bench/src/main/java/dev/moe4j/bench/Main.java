package dev.moe4j.bench;

import java.util.Arrays;

/**
 * The project's main job (the README's first command).
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.moe4j.bench.Main [command] [options]
 * </pre>
 * Commands: {@code demo} (default): the tensor tour and a timed matrix product ({@link TensorDemo}).
 */
public final class Main {
    private Main() {}

    /** Dispatches to the command named by the first argument. */
    public static void main(String[] args) {
        String command = args.length == 0 || args[0].startsWith("-") ? "demo" : args[0];
        String[] rest = args.length == 0 || args[0].startsWith("-") ? args : Arrays.copyOfRange(args, 1, args.length);
        switch (command) {
            case "demo" -> TensorDemo.main(rest);
            default -> {
                System.err.println("unknown command '" + command + "'; accepted: demo");
                System.exit(2);
            }
        }
    }
}
