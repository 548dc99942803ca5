package dev.moe4j.bench;

import java.io.PrintStream;

/** Test access to {@link TrainMoe#run} from other packages. */
public final class TrainMoeAccess {
    private TrainMoeAccess() {}

    /** {@link TrainMoe#run(String[], PrintStream, PrintStream)}. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return TrainMoe.run(args, out, err);
    }
}
