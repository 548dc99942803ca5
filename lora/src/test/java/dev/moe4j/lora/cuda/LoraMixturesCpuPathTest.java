package dev.moe4j.lora.cuda;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;

import org.junit.jupiter.api.Test;

/**
 * The device cases of {@link LoraMixturesCudaTest} with the CPU as the target, in F32: the layers on
 * CPU tensors take the CPU branches (every result is checked to be on the CPU, MixLoRA's plan is a
 * host plan), the two copies agree, and the test inputs keep their decisions away from the
 * boundaries. Runs without a GPU.
 */
class LoraMixturesCpuPathTest {
    private final MixtureCases cases = new MixtureCases(Device.CPU);

    @Test void mixLora() { cases.mixLora(DType.F32); }
    @Test void sira() { cases.sira(DType.F32); }
    @Test void mixtureOfRouters() { cases.mixtureOfRouters(DType.F32); }
    @Test void adaMole() { cases.adaMole(DType.F32); }
    @Test void dynMole() { cases.dynMole(DType.F32); }
    @Test void loraMoe() { cases.loraMoe(DType.F32); }
    @Test void ensemble() { cases.ensemble(DType.F32); }
    @Test void sMore() { cases.sMore(DType.F32); }
    @Test void miLora() { cases.miLora(DType.F32); }
    @Test void mixtureModel() { cases.mixtureModel(DType.F32); }
    @Test void merge() { cases.merge(DType.F32); }
    @Test void upcycleLinear() { cases.upcycleLinear(DType.F32); }
    @Test void upcycleSwiglu() { cases.upcycleSwiglu(DType.F32); }
}
