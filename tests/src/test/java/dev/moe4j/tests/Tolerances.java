package dev.moe4j.tests;

/** The agreement the conformance tests require of a float32 engine against the float64 references. */
final class Tolerances {
    private Tolerances() {}

    /** Relative error ||got - want|| / ||want|| allowed for outputs (and router outputs). */
    static final double OUTPUT = 1e-5;
    /** Relative error allowed for gradients. */
    static final double GRADIENT = 1e-4;
    /** Two selection scores closer than this (relative) count as a tie when expert choices differ. */
    static final double TIE = 1e-6;
}
