package dev.moe4j.tensor;

import java.util.SplittableRandom;

/**
 * A seeded source of random numbers for tensor creation ({@link Tensor#rand}, {@link Tensor#randn})
 * and for stochastic layers. The same seed gives the same numbers on every machine.
 */
public final class Generator {
    private final SplittableRandom random;
    private final long seed;

    /** A generator seeded with {@code seed}. */
    public Generator(long seed) {
        this.seed = seed;
        this.random = new SplittableRandom(seed);
    }

    /** The seed this generator started from. */
    public long seed() { return seed; }

    /** Uniform in [0, 1). */
    public double nextDouble() { return random.nextDouble(); }

    /** Uniform in [0, 1) as a float. */
    public float nextFloat() { return (float) random.nextDouble(); }

    /** Standard normal (Box-Muller on two uniforms). */
    public double nextGaussian() {
        double u1 = 1.0 - random.nextDouble();           // (0, 1]: log is finite
        double u2 = random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    /** Uniform integer in [0, bound). */
    public int nextInt(int bound) { return random.nextInt(bound); }

    /** Uniform long. */
    public long nextLong() { return random.nextLong(); }
}
