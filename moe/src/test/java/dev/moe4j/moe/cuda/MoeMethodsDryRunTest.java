package dev.moe4j.moe.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.moe.cuda.MoeLayerCudaTest.Precision;
import dev.moe4j.moe.routing.NoisyTopKRouter;
import dev.moe4j.moe.routing.StochasticExpertRouter.Granularity;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Runs the cases of {@link MoeMethodsCudaTest} with the second copy of each layer on the CPU (F32):
 * the cases' own code, their inputs and their CPU-side claims (idle experts, dropped and unselected
 * pairs, null pairs, the experts pruning keeps) are checked on every build, without a GPU. Also
 * checks that the BF16 cases' inputs route alike before and after rounding to bf16.
 */
class MoeMethodsDryRunTest {
    private final MoeMethodsCudaTest cases = new MoeMethodsCudaTest();

    @BeforeEach
    void onTheCpu() {
        MoeMethodsCudaTest.target = Device.CPU;
        DeviceTestSupport.deviceUnderTest = Device.CPU;
    }

    @AfterEach
    void back() {
        MoeMethodsCudaTest.target = DeviceTestSupport.GPU;
        DeviceTestSupport.deviceUnderTest = DeviceTestSupport.GPU;
    }

    @Test
    void heterogeneousExperts() {
        cases.heterogeneousExpertsWithSoftmaxTopKAndTheParameterPenalty(Precision.F32);
        cases.heterogeneousExpertsWithTopPAndTheRouterEntropy(Precision.F32);
    }

    @Test
    void autonomyOfExperts() {
        cases.autonomyOfExperts(Precision.F32, true);
        cases.autonomyOfExperts(Precision.F32, false);
    }

    @Test
    void chainOfExperts() {
        cases.chainOfExperts(Precision.F32, false);
        cases.chainOfExperts(Precision.F32, true);
    }

    @Test
    void stochasticExperts() {
        cases.stochasticExpertsWithTheConsistencyLoss(Precision.F32, Granularity.TOKEN);
        cases.stochasticExpertsWithTheConsistencyLoss(Precision.F32, Granularity.BATCH);
    }

    @Test
    void frozenRandomRouter() {
        cases.frozenRandomRouterUnderAnActiveExpertSchedule(Precision.F32);
    }

    @Test
    void noisyTopK() {
        cases.noisyTopKWithImportanceAndLoadLosses(Precision.F32, true);
        cases.noisyTopKWithImportanceAndLoadLosses(Precision.F32, false);
        cases.normalCdfAndItsDensity(Precision.F32);
        cases.smoothLoadOfRandomLogits();
    }

    @Test
    void otherRouters() {
        cases.expertChoiceRouting(Precision.F32);
        cases.hashRoutingWithCapacity(Precision.F32);
        cases.topPRoutingWithTheEntropyLoss(Precision.F32);
        cases.nullExperts(Precision.F32);
    }

    @Test
    void expertPruning() {
        cases.expertPruningOfALayerOnTheDevice(Precision.F32);
    }

    /**
     * The routing margins hold: for the layer cases, a layer with bf16-rounded parameters routes the
     * F32 input and its bf16 rounding alike (the device in BF16 sees the rounded one).
     */
    @Test
    void bf16RoundingKeepsTheRoutingOfTheLayerCases() {
        int T = 16;
        for (RouterKind kind : new RouterKind[] {RouterKind.EXPERT_CHOICE, RouterKind.TOP_P, RouterKind.NULL_EXPERTS, RouterKind.NOISY_TOPK}) {
            MoeOptions o = MoeMethodsCudaTest.options().router(kind).topK(kind == RouterKind.TOP_P ? 4 : 2).topP(0.6).nullExperts(2)
                    .capacityFactor(kind == RouterKind.EXPERT_CHOICE ? 1.5 : Double.POSITIVE_INFINITY);
            MoeLayer bf = new MoeLayer(o.dtype(DType.BF16));
            MoeLayer layer = new MoeLayer(o.dtype(DType.F32));
            layer.loadStateDict(bf.stateDict(), true);
            layer.eval();
            Generator g = new Generator(200 + kind.ordinal());
            double[][] w = MethodInputs.rows(layer.router().parameters().get(0));
            double[][] target = switch (kind) {
                case EXPERT_CHOICE -> MethodInputs.expertChoiceLogits(g, T, MoeMethodsCudaTest.E, 3);
                case TOP_P -> MethodInputs.topPLogits(g, T, MoeMethodsCudaTest.E, 0.6, 4);
                default -> MethodInputs.ladders(g, MoeLayerCudaTest.choices(g, T, 2, new int[] {0, 1, 2, 3, 4, 5, 6, 7}), w.length, 3, 0.5);
            };
            Tensor x;
            if (kind == RouterKind.NOISY_TOPK) {
                double[][] noise = MethodInputs.rows(((NoisyTopKRouter) layer.router()).noiseWeight());
                x = MethodInputs.tokensFor(MethodInputs.stack(w, noise), MethodInputs.join(target, MethodInputs.constant(T, MoeMethodsCudaTest.E, -3)), g);
            } else {
                x = MethodInputs.tokensFor(w, target, g);
            }
            layer.forward(x);
            int[] want = layer.lastRouting().expertIds().clone();
            boolean[] wantSel = layer.lastRouting().selected();
            int[] wantRows = layer.lastRouting().plan().rowToPair().clone();
            layer.forward(DeviceTestSupport.rounded(x, DType.BF16));
            assertArrayEquals(want, layer.lastRouting().expertIds(), kind + ": expert ids after rounding");
            assertArrayEquals(wantSel, layer.lastRouting().selected(), kind + ": selection after rounding");
            assertArrayEquals(wantRows, layer.lastRouting().plan().rowToPair(), kind + ": plan after rounding");
        }
    }
}
