package dev.moe4j.kernels.cpu.moe;

import static dev.moe4j.kernels.cpu.moe.MoeTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class GatingTest {

    /** A gating variant, built for given k, nGroup and topkGroup (ungrouped variants ignore the last two). */
    interface Variant {
        GatingConfig config(int k, int nGroup, int topkGroup);
    }

    record Named(String name, Variant variant, boolean withBias) {
        @Override
        public String toString() {
            return name;
        }
    }

    static final List<Named> VARIANTS = List.of(
            new Named("mixtral", (k, g, tg) -> GatingConfig.mixtral(k), false),
            new Named("qwen2-no-renorm", (k, g, tg) -> GatingConfig.softmaxTopK(k, false), false),
            new Named("softmax+bias,eps,scale", (k, g, tg) -> new GatingConfig(ScoreFunction.SOFTMAX, k, 1, 1,
                    GroupScore.SUM_TOP2, Float.NEGATIVE_INFINITY, true, 0.25f, 0.5f, true), true),
            new Named("sigmoid+bias", (k, g, tg) -> new GatingConfig(ScoreFunction.SIGMOID, k, 1, 1,
                    GroupScore.SUM_TOP2, Float.NEGATIVE_INFINITY, true, 1e-20f, 2.5f, true), true),
            new Named("deepseek-v3", (k, g, tg) -> GatingConfig.deepseekV3(k, g, tg, true, 2.5f), true),
            new Named("deepseek-v3,-inf mask,no renorm", (k, g, tg) ->
                    GatingConfig.deepseekV3(k, g, tg, false, 1.5f).withMaskedScore(Float.NEGATIVE_INFINITY), true),
            new Named("softmax,group max", (k, g, tg) -> new GatingConfig(ScoreFunction.SOFTMAX, k, g, tg,
                    GroupScore.MAX, Float.NEGATIVE_INFINITY, false, 0f, 16f, true), false));

    /** (T, E, k, nGroup, topkGroup): empty, single token, single expert, k = E, odd sizes, DeepSeek's E = 256, a parallel one. */
    static final int[][] SHAPES = {
            {0, 8, 2, 4, 2}, {1, 8, 2, 4, 2}, {1, 1, 1, 1, 1}, {37, 8, 2, 4, 2}, {5, 6, 6, 3, 3},
            {33, 64, 8, 8, 4}, {300, 16, 4, 4, 2}, {17, 12, 3, 6, 2}, {9, 256, 8, 8, 4}, {1200, 32, 6, 8, 3}};

    static Stream<Arguments> cases() {
        List<Arguments> list = new ArrayList<>();
        for (Named v : VARIANTS) for (int[] s : SHAPES) list.add(Arguments.of(v, s[0], s[1], s[2], s[3], s[4]));
        return list.stream();
    }

    /** Logits [T, E] whose decisions are at least {@code minMargin} away from a tie (tokens are redrawn until so). */
    static float[] separatedLogits(Random rnd, GatingConfig c, int T, int E, float[] bias, double minMargin) {
        float[] logits = new float[T * E];
        double[] b = bias == null ? null : widen(bias);
        for (int t = 0; t < T; t++) {
            for (int attempt = 0; ; attempt++) {
                float[] row = gaussian(rnd, E, 2.0);
                if (IndependentGating.route(c, widen(row), b).margin() >= minMargin) {
                    System.arraycopy(row, 0, logits, t * E, E);
                    break;
                }
                if (attempt > 10_000) fail("could not draw separated logits for " + c);
            }
        }
        return logits;
    }

    static float[] biasFor(Random rnd, int E, boolean withBias) {
        return withBias ? gaussian(rnd, E, 0.1) : null;
    }

    // ---------------------------------------------------------------------------------------------
    // forward
    // ---------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0} T={1} E={2} k={3} groups={4}/{5}")
    @MethodSource("cases")
    void referenceMatchesIndependentImplementation(Named v, int T, int E, int k, int nGroup, int topkGroup) {
        GatingConfig c = v.variant().config(k, nGroup, topkGroup);
        Random rnd = new Random(31L * T + 7L * E + k + v.name().hashCode());
        float[] bias = biasFor(rnd, E, v.withBias());
        double[] logits = widen(separatedLogits(rnd, c, T, E, bias, 1e-9));
        double[] b = bias == null ? null : widen(bias);
        double[] scores = new double[T * E], weights = new double[T * k];
        int[] ids = new int[T * k], counts = new int[E];
        GatingReference.forward(c, logits, T, E, b, scores, weights, ids, counts);
        int[] wantCounts = new int[E];
        for (int t = 0; t < T; t++) {
            IndependentGating.Routed want = IndependentGating.route(c, Arrays.copyOfRange(logits, t * E, (t + 1) * E), b);
            for (int j = 0; j < k; j++) {
                assertThat(ids[t * k + j]).as("token %d slot %d", t, j).isEqualTo(want.ids()[j]);
                assertThat(weights[t * k + j]).as("weight of token %d slot %d", t, j)
                        .isCloseTo(want.weights()[j], org.assertj.core.data.Offset.offset(1e-12 * Math.max(1, Math.abs(want.weights()[j]))));
                wantCounts[want.ids()[j]]++;
            }
        }
        assertThat(counts).containsExactly(wantCounts);
    }

    @ParameterizedTest(name = "{0} T={1} E={2} k={3} groups={4}/{5}")
    @MethodSource("cases")
    void fastMatchesReference(Named v, int T, int E, int k, int nGroup, int topkGroup) {
        GatingConfig c = v.variant().config(k, nGroup, topkGroup);
        Random rnd = new Random(97L * T + 5L * E + k + v.name().hashCode());
        float[] bias = biasFor(rnd, E, v.withBias());
        float[] logits = separatedLogits(rnd, c, T, E, bias, 2e-5);

        double[] wantScores = new double[T * E], wantWeights = new double[T * k];
        int[] wantIds = new int[T * k], wantCounts = new int[E];
        GatingReference.forward(c, widen(logits), T, E, bias == null ? null : widen(bias), wantScores, wantWeights, wantIds, wantCounts);

        float[] scores = new float[T * E], weights = new float[T * k];
        int[] ids = new int[T * k], counts = new int[E];
        Gating.forward(c, logits, T, E, bias, scores, weights, ids, counts);
        assertIntsEqual("ids", wantIds, ids, T * k);
        assertThat(counts).containsExactly(wantCounts);
        assertClose("scores", wantScores, scores, T * E, GATING_FORWARD_TOL);
        assertClose("weights", wantWeights, weights, T * k, GATING_FORWARD_TOL);

        // without a scores buffer, and through the float entry point of the reference
        float[] weights2 = new float[T * k], refWeights = new float[T * k];
        int[] ids2 = new int[T * k], refIds = new int[T * k];
        Gating.forward(c, logits, T, E, bias, null, weights2, ids2, new int[E]);
        GatingReference.forward(c, logits, T, E, bias, null, refWeights, refIds, new int[E]);
        assertSameFloats("weights without scores buffer", weights, weights2, T * k);
        assertIntsEqual("ids without scores buffer", ids, ids2, T * k);
        assertIntsEqual("ids of the float reference", wantIds, refIds, T * k);
        assertClose("weights of the float reference", wantWeights, refWeights, T * k, 1e-7);

        float[] recomputed = new float[T * E];
        Gating.scores(c.scoreFunction(), logits, T, E, recomputed);
        assertSameFloats("Gating.scores", scores, recomputed, T * E);
    }

    @ParameterizedTest(name = "{0} T={1} E={2} k={3} groups={4}/{5}")
    @MethodSource("cases")
    void exactTiesGoToTheLowerExpertIdInBothVersions(Named v, int T, int E, int k, int nGroup, int topkGroup) {
        GatingConfig c = v.variant().config(k, nGroup, topkGroup);
        Random rnd = new Random(13L * T + E + k);
        float[] logits = new float[T * E];
        for (int i = 0; i < logits.length; i++) logits[i] = rnd.nextInt(3);     // many exact ties
        if (T > 0) Arrays.fill(logits, 0, E, 1.5f);                             // token 0: all tied
        float[] bias = v.withBias() ? new float[E] : null;
        if (bias != null) Arrays.fill(bias, 0.125f);                            // uniform: keeps ties exact

        float[] weights = new float[T * k], refWeights = new float[T * k];
        int[] ids = new int[T * k], refIds = new int[T * k];
        Gating.forward(c, logits, T, E, bias, null, weights, ids, new int[E]);
        GatingReference.forward(c, logits, T, E, bias, null, refWeights, refIds, new int[E]);
        assertIntsEqual("ids, fast vs reference", refIds, ids, T * k);
        double[] b = bias == null ? null : widen(bias);
        for (int t = 0; t < T; t++) {
            int[] want = IndependentGating.route(c, widen(Arrays.copyOfRange(logits, t * E, (t + 1) * E)), b).ids();
            assertThat(Arrays.copyOfRange(refIds, t * k, (t + 1) * k)).as("token %d", t).containsExactly(want);
        }
        if (T > 0) {
            for (int j = 0; j < k; j++) assertThat(ids[j]).as("all-tied token, slot %d", j).isEqualTo(j);
        }
    }

    @Test
    void selectionBiasChangesTheChoiceButNotTheWeights() {
        int T = 50, E = 8, k = 2;
        GatingConfig c = new GatingConfig(ScoreFunction.SIGMOID, k, 1, 1, GroupScore.SUM_TOP2, Float.NEGATIVE_INFINITY,
                false, 0f, 1f, true);
        Random rnd = new Random(5);
        float[] logits = gaussian(rnd, T * E, 1.0);
        float[] bias = new float[E];
        bias[E - 1] = 10f;                                                       // expert 7 always wins the choice
        float[] scores = new float[T * E], weights = new float[T * k];
        int[] ids = new int[T * k], counts = new int[E];
        Gating.forward(c, logits, T, E, bias, scores, weights, ids, counts);
        assertThat(counts[E - 1]).isEqualTo(T);
        for (int t = 0; t < T; t++) {
            assertThat(ids[t * k]).isEqualTo(E - 1);
            for (int j = 0; j < k; j++) {
                assertThat(weights[t * k + j]).isEqualTo(scores[t * E + ids[t * k + j]]);  // unbiased score
            }
        }
    }

    @Test
    void renormalisedWeightsSumToTheScaleAndUnnormalisedOnesAreTheScores() {
        int T = 64, E = 16, k = 4;
        Random rnd = new Random(9);
        float[] logits = gaussian(rnd, T * E, 3.0);
        float[] bias = gaussian(rnd, E, 0.1);
        GatingConfig renorm = GatingConfig.deepseekV3(k, 4, 2, true, 2.5f);
        float[] scores = new float[T * E], weights = new float[T * k];
        int[] ids = new int[T * k];
        Gating.forward(renorm, logits, T, E, bias, scores, weights, ids, new int[E]);
        for (int t = 0; t < T; t++) {
            double sum = 0;
            for (int j = 0; j < k; j++) sum += weights[t * k + j];
            assertThat(sum).isCloseTo(2.5, org.assertj.core.data.Offset.offset(1e-5));
        }
        GatingConfig plain = GatingConfig.softmaxTopK(k, false);
        Gating.forward(plain, logits, T, E, null, scores, weights, ids, new int[E]);
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < k; j++) assertThat(weights[t * k + j]).isEqualTo(scores[t * E + ids[t * k + j]]);
        }
    }

    /**
     * Group-limited selection where the kept group has a negative biased score: Hugging Face fills the experts
     * of dropped groups with 0, so one of them (the lowest id) beats it; with -inf the kept group's expert wins.
     */
    @Test
    void maskedScoreZeroLetsDroppedGroupsBeatNegativeBiasedScores() {
        int E = 4, k = 2;
        // group 0 = {0, 1}: choice 0.90 and 0.5 - 1 = -0.5 (sum 0.40); group 1 = {2, 3}: 0.10 + 0.10 = 0.20
        float[] logits = {(float) Math.log(0.9 / 0.1), 0f, (float) Math.log(0.1 / 0.9), (float) Math.log(0.1 / 0.9)};
        float[] bias = {0f, -1f, 0f, 0f};
        GatingConfig hf = GatingConfig.deepseekV3(k, 2, 1, true, 1f);
        for (GatingConfig c : List.of(hf, hf.withMaskedScore(Float.NEGATIVE_INFINITY))) {
            int[] ids = new int[k], refIds = new int[k];
            Gating.forward(c, logits, 1, E, bias, null, new float[k], ids, new int[E]);
            GatingReference.forward(c, logits, 1, E, bias, null, new float[k], refIds, new int[E]);
            int[] want = c.maskedScore() == 0f ? new int[] {0, 2} : new int[] {0, 1};
            assertThat(ids).as("fast, masked score %s", c.maskedScore()).containsExactly(want);
            assertThat(refIds).as("reference, masked score %s", c.maskedScore()).containsExactly(want);
        }
    }

    @Test
    void nanLogitIsRejectedNamingTheTokenBeforeAnyOutputIsWritten() {
        int T = 8, E = 5, k = 2;
        float[] logits = gaussian(new Random(1), T * E, 1.0);
        logits[6 * E + 3] = Float.NaN;
        float[] weights = new float[T * k];
        Arrays.fill(weights, -7f);
        GatingConfig c = GatingConfig.mixtral(k);
        assertThatThrownBy(() -> Gating.forward(c, logits, T, E, null, null, weights, new int[T * k], new int[E]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token 6").hasMessageContaining("expert 3");
        assertThatThrownBy(() -> GatingReference.forward(c, logits, T, E, null, null, weights, new int[T * k], new int[E]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token 6");
        for (float w : weights) assertThat(w).isEqualTo(-7f);
        // with the check off, the NaN token routes somewhere and the others are untouched by it
        Gating.forward(c.withRejectNaN(false), logits, T, E, null, null, weights, new int[T * k], new int[E]);
        assertThat(weights[0]).isNotNaN();
        assertThat(weights[6 * k]).isNaN();
    }

    @Test
    void invalidConfigurationsAreRejectedWithTheirValues() {
        assertThatThrownBy(() -> GatingConfig.mixtral(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k must be >= 1");
        assertThatThrownBy(() -> GatingConfig.mixtral(3).validate(2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("k = 3").hasMessageContaining("E = 2");
        assertThatThrownBy(() -> GatingConfig.mixtral(1).validate(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("E must be >= 1");
        assertThatThrownBy(() -> GatingConfig.deepseekV3(2, 4, 2, true, 1f).validate(10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("E = 10").hasMessageContaining("nGroup = 4");
        assertThatThrownBy(() -> GatingConfig.deepseekV3(2, 4, 5, true, 1f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("topkGroup");
        assertThatThrownBy(() -> GatingConfig.deepseekV3(2, 4, 0, true, 1f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("topkGroup");
        assertThatThrownBy(() -> GatingConfig.deepseekV3(1, 4, 2, true, 1f).validate(4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("SUM_TOP2");
        assertThatThrownBy(() -> GatingConfig.deepseekV3(5, 4, 1, true, 1f).withMaskedScore(Float.NEGATIVE_INFINITY).validate(16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k = 5");
        GatingConfig.deepseekV3(5, 4, 1, true, 1f).validate(16);                // legal with 0-filled masked experts
        assertThatThrownBy(() -> GatingConfig.mixtral(2).withMaskedScore(Float.NaN)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new GatingConfig(ScoreFunction.SOFTMAX, 1, 1, 1, GroupScore.MAX, 0f, true, -1f, 1f, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("renormEps");
        assertThatThrownBy(() -> new GatingConfig(ScoreFunction.SOFTMAX, 1, 1, 1, GroupScore.MAX, 0f, true, 0f, Float.NaN, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scale");
        assertThatThrownBy(() -> new GatingConfig(ScoreFunction.SOFTMAX, 1, 0, 1, GroupScore.MAX, 0f, true, 0f, 1f, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nGroup");
    }

    @Test
    void badArraysAreRejectedBeforeWork() {
        GatingConfig c = GatingConfig.mixtral(2);
        float[] logits = new float[3 * 4];
        assertThatThrownBy(() -> Gating.forward(c, logits, 4, 4, null, null, new float[8], new int[8], new int[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("logits").hasMessageContaining("[4, 4]");
        assertThatThrownBy(() -> Gating.forward(c, logits, 3, 4, null, null, new float[5], new int[6], new int[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weights");
        assertThatThrownBy(() -> Gating.forward(c, logits, 3, 4, new float[3], null, new float[6], new int[6], new int[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias");
        assertThatThrownBy(() -> Gating.forward(c, logits, 3, 4, new float[] {0, Float.POSITIVE_INFINITY, 0, 0}, null,
                new float[6], new int[6], new int[4])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expert 1");
        assertThatThrownBy(() -> Gating.forward(c, logits, -1, 4, null, null, new float[6], new int[6], new int[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("T must be >= 0");
        int[] badIds = {0, 1, 2, 4, 0, 1};
        assertThatThrownBy(() -> Gating.backward(c, new float[12], 3, 4, badIds, new float[6], new float[12]))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("token 1, slot 1");
        assertThatThrownBy(() -> GatingReference.backward(c, new float[12], 3, 4, badIds, new float[6], new float[12]))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    // ---------------------------------------------------------------------------------------------
    // backward
    // ---------------------------------------------------------------------------------------------

    /** L = sum_{t,j} g[t,j] * w[t,j] through the double reference; asserts the choice equals {@code ids}. */
    static double loss(GatingConfig c, double[] logits, int T, int E, double[] bias, double[] g, int[] ids) {
        double[] w = new double[T * c.k()];
        int[] got = new int[T * c.k()];
        GatingReference.forward(c, logits, T, E, bias, new double[T * E], w, got, new int[E]);
        assertThat(got).as("selection must not change under a finite-difference step").containsExactly(ids);
        double l = 0;
        for (int i = 0; i < w.length; i++) l += g[i] * w[i];
        return l;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void referenceBackwardMatchesCentralDifferencesInDouble(Named v) {
        int T = 3, E = 8, k = 3;
        GatingConfig c = v.variant().config(k, 4, 2);
        Random rnd = new Random(v.name().hashCode());
        float[] fb = biasFor(rnd, E, v.withBias());
        double[] bias = fb == null ? null : widen(fb);
        double[] logits = widen(separatedLogits(rnd, c, T, E, fb, 1e-3));
        double[] g = widen(gaussian(rnd, T * k, 1.0));
        double[] scores = new double[T * E], w = new double[T * k];
        int[] ids = new int[T * k];
        GatingReference.forward(c, logits, T, E, bias, scores, w, ids, new int[E]);
        double[] dLogits = new double[T * E];
        GatingReference.backward(c, scores, T, E, ids, g, dLogits);

        double h = FD_DOUBLE_STEP;
        for (int i = 0; i < T * E; i++) {
            double keep = logits[i];
            logits[i] = keep + h;
            double up = loss(c, logits, T, E, bias, g, ids);
            logits[i] = keep - h;
            double down = loss(c, logits, T, E, bias, g, ids);
            logits[i] = keep;
            double fd = (up - down) / (2 * h);
            assertThat(Math.abs(fd - dLogits[i])).as("dLogit %d: analytic %s, central difference %s", i, dLogits[i], fd)
                    .isLessThanOrEqualTo(FD_DOUBLE_TOL * (1 + Math.abs(fd)));
        }
        // the bias gets no gradient: a small change that keeps the selection leaves the weights unchanged
        if (bias != null) {
            double[] shifted = bias.clone();
            for (int e = 0; e < E; e++) shifted[e] += 1e-6;
            double[] w2 = new double[T * k];
            int[] ids2 = new int[T * k];
            GatingReference.forward(c, logits, T, E, shifted, new double[T * E], w2, ids2, new int[E]);
            assertThat(ids2).containsExactly(ids);
            assertThat(w2).containsExactly(w);
        }
    }

    static Stream<Named> variants() {
        return VARIANTS.stream();
    }

    @ParameterizedTest(name = "{0} T={1} E={2} k={3} groups={4}/{5}")
    @MethodSource("cases")
    void fastBackwardMatchesReference(Named v, int T, int E, int k, int nGroup, int topkGroup) {
        GatingConfig c = v.variant().config(k, nGroup, topkGroup);
        Random rnd = new Random(3L * T + 11L * E + k + v.name().hashCode());
        float[] bias = biasFor(rnd, E, v.withBias());
        float[] logits = separatedLogits(rnd, c, T, E, bias, 2e-5);
        float[] scores = new float[T * E], weights = new float[T * k];
        int[] ids = new int[T * k];
        Gating.forward(c, logits, T, E, bias, scores, weights, ids, new int[E]);
        float[] dWeights = gaussian(rnd, T * k, 1.0);

        double[] want = new double[T * E];
        GatingReference.backward(c, widen(scores), T, E, ids, widen(dWeights), want);
        float[] got = new float[T * E];
        Arrays.fill(got, Float.NaN);                                            // every element must be written
        Gating.backward(c, scores, T, E, ids, dWeights, got);
        // floor: a case whose gradient vanishes (E = 1 under renormalisation) is compared at the scale of dWeights
        assertCloseToScale("dLogits", want, widen(got), T * E, GATING_BACKWARD_TOL, 1e-3);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void fastBackwardMatchesCentralDifferencesInFloat(Named v) {
        int T = 4, E = 8, k = 2;
        GatingConfig c = v.variant().config(k, 4, 2);
        Random rnd = new Random(v.name().hashCode() + 1);
        float[] bias = biasFor(rnd, E, v.withBias());
        float[] logits = separatedLogits(rnd, c, T, E, bias, 0.05);
        float[] g = gaussian(rnd, T * k, 1.0);
        float[] scores = new float[T * E], w = new float[T * k];
        int[] ids = new int[T * k];
        Gating.forward(c, logits, T, E, bias, scores, w, ids, new int[E]);
        float[] dLogits = new float[T * E];
        Gating.backward(c, scores, T, E, ids, g, dLogits);

        double[] fd = new double[T * E];
        float h = FD_FLOAT_STEP;
        for (int i = 0; i < T * E; i++) {
            float keep = logits[i];
            logits[i] = keep + h;
            double up = floatLoss(c, logits, T, E, bias, g, ids);
            logits[i] = keep - h;
            double down = floatLoss(c, logits, T, E, bias, g, ids);
            logits[i] = keep;
            fd[i] = (up - down) / (2.0 * h);
        }
        assertCloseToScale("dLogits vs float central differences", fd, widen(dLogits), T * E, FD_FLOAT_TOL, 1e-30);
    }

    private static double floatLoss(GatingConfig c, float[] logits, int T, int E, float[] bias, float[] g, int[] ids) {
        float[] w = new float[T * c.k()];
        int[] got = new int[T * c.k()];
        Gating.forward(c, logits, T, E, bias, null, w, got, new int[E]);
        assertThat(got).as("selection must not change under a finite-difference step").containsExactly(ids);
        double l = 0;
        for (int i = 0; i < w.length; i++) l += (double) g[i] * w[i];
        return l;
    }
}
