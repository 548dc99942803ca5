package dev.moe4j.lora.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe4j.lora.MixLoraLinear;
import dev.moe4j.lora.SMoreLinear;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The mixtures of LoRA experts, merging and upcycling on a CUDA device against the CPU, in F32 (1e-5)
 * and BF16 (1e-2, against the CPU in F32 on the same bf16-rounded values): outputs, input gradients,
 * auxiliary losses, routing decisions and every parameter gradient ({@link MixtureCases}).
 */
@Tag("gpu")
class LoraMixturesCudaTest {
    private final MixtureCases cases = new MixtureCases(DeviceTestSupport.GPU);

    @BeforeEach
    void needsAGpu() {
        DeviceTestSupport.requireGpu();
    }

    enum Precision {
        F32(DType.F32), BF16(DType.BF16);
        final DType dtype;
        Precision(DType dtype) { this.dtype = dtype; }
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void mixLoraTopKOnTheDevicePlan(Precision p) { cases.mixLora(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void siraWithCapacityAndExpertDropout(Precision p) { cases.sira(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void mixtureOfRouters(Precision p) { cases.mixtureOfRouters(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void adaMoleLearnedThreshold(Precision p) { cases.adaMole(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void dynMoleSoftAndSparseTokens(Precision p) { cases.dynMole(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void loraMoeWithTheLocalizedBalancingConstraint(Precision p) { cases.loraMoe(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void loraEnsembleAndItsAverages(Precision p) { cases.ensemble(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void sMoreTwoLevelTree(Precision p) { cases.sMore(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void miLoraPromptRoutingAndCachedGates(Precision p) { cases.miLora(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void loraMixtureModelMovesAndRuns(Precision p) { cases.mixtureModel(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void mergingUpdatesOnTheDevice(Precision p) { cases.merge(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void upcyclingALinearLayerAndMergingBack(Precision p) { cases.upcycleLinear(p.dtype); }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void upcyclingASwigluMlpAndMergingBack(Precision p) { cases.upcycleSwiglu(p.dtype); }

    @Test
    void anInputOnTheCpuIntoALayerOnTheDeviceFailsBeforeAnyWork() {
        MixLoraLinear l = new MixLoraLinear(MixtureCases.base(DType.F32), 4, 2, MixtureCases.SPEC.withDropout(0.1), new Generator(1));
        l.to(DeviceTestSupport.GPU);
        Tensor x = Tensor.randn(new Generator(2), DType.F32, 3, MixtureCases.IN);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.forward(x));
        assertTrue(e.getMessage().contains("MixLoraLinear") && e.getMessage().contains(DeviceTestSupport.GPU.toString()), e.getMessage());
        SMoreLinear s = new SMoreLinear(MixtureCases.base(DType.F32), new SMoreLinear.Structure(new int[] {3}, new int[] {2}, new int[] {2}, 4, 2),
                null, new Generator(3));
        s.to(DeviceTestSupport.GPU);
        assertThrows(IllegalArgumentException.class, () -> s.forward(x));
    }
}
