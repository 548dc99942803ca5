package dev.moe4j.moe.balance;

/**
 * Which balancing an MoE layer applies, and how strongly.
 *
 * @param auxLossCoef      weight of the Switch load-balancing loss (0: off)
 * @param zLossCoef        weight of the router z-loss (0: off)
 * @param sequenceAuxCoef  alpha of DeepSeek-V3's sequence-wise balance loss (0: off)
 * @param biasUpdateRate   u of the auxiliary-loss-free bias update (0: off); needs a router with a
 *                         selection bias
 */
public record Balancing(double auxLossCoef, double zLossCoef, double sequenceAuxCoef, double biasUpdateRate) {

    /**
     * @throws IllegalArgumentException for a negative or non-finite value
     */
    public Balancing {
        check("auxiliary loss coefficient", auxLossCoef);
        check("z-loss coefficient", zLossCoef);
        check("sequence-wise auxiliary loss coefficient", sequenceAuxCoef);
        check("bias update rate", biasUpdateRate);
    }

    private static void check(String what, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) throw new IllegalArgumentException(what + " must be finite and >= 0, got " + v);
    }

    /** No balancing. */
    public static Balancing none() { return new Balancing(0, 0, 0, 0); }

    /** The Switch auxiliary loss with coefficient {@code coef}. */
    public static Balancing auxLoss(double coef) { return new Balancing(coef, 0, 0, 0); }

    /** The auxiliary-loss-free bias update with rate {@code u}. */
    public static Balancing lossFree(double u) { return new Balancing(0, 0, 0, u); }

    /** This balancing with the router z-loss added. */
    public Balancing withZLoss(double coef) { return new Balancing(auxLossCoef, coef, sequenceAuxCoef, biasUpdateRate); }

    /** This balancing with DeepSeek-V3's sequence-wise loss added. */
    public Balancing withSequenceAux(double alpha) { return new Balancing(auxLossCoef, zLossCoef, alpha, biasUpdateRate); }

    /** Whether any loss term is on. */
    public boolean hasLoss() { return auxLossCoef > 0 || zLossCoef > 0 || sequenceAuxCoef > 0; }
}
