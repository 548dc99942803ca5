package dev.moe4j.lora.cuda;

import static dev.moe4j.lora.cuda.DeviceTestSupport.GPU;
import static dev.moe4j.lora.cuda.DeviceTestSupport.assertClose;
import static dev.moe4j.lora.cuda.DeviceTestSupport.assertGradsClose;
import static dev.moe4j.lora.cuda.DeviceTestSupport.rounded;
import static dev.moe4j.lora.cuda.DeviceTestSupport.tolerance;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.autograd.nn.Module;
import dev.moe4j.lora.AdapterSpec;
import dev.moe4j.lora.ExpertLora;
import dev.moe4j.lora.LoraInit;
import dev.moe4j.lora.LoraLinear;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.experts.GroupedExperts;
import dev.moe4j.moe.ops.ExpertActivation;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.function.Function;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * LoRA layers built on the CPU and copied to the device ({@code Module.to}) compute the same outputs,
 * input gradients and adapter gradients as on the CPU, in F32 (1e-5) and BF16 (1e-2, against the CPU
 * in F32 on the same bf16-rounded values): LoraLinear with LoRA, rsLoRA (with dropout, masks drawn on
 * the host) and DoRA, merge and unmerge, a mixed batch of three adapters of different ranks
 * (SegmentedLora on the device grouped GEMM), and LoRA on expert weights.
 */
@Tag("gpu")
class LoraCudaTest {
    static final int IN = 48, OUT = 40;

    @BeforeEach
    void needsAGpu() {
        DeviceTestSupport.requireGpu();
    }

    enum Variant {
        LORA(AdapterSpec.of(8, 16)),
        RSLORA(AdapterSpec.of(8, 16).withRslora(true).withDropout(0.2)),
        DORA(AdapterSpec.of(8, 16).withDora(true));
        final AdapterSpec spec;
        Variant(AdapterSpec spec) { this.spec = spec.withInit(LoraInit.RANDOM); }
    }

    static LoraLinear lora(DType dtype, AdapterSpec spec) {
        return new LoraLinear(new Linear(IN, OUT, true, dtype, new Generator(1)), "default", spec, new Generator(2));
    }

    /** The same module in F32 with the values of {@code device} (made in {@code dtype}), before it moves. */
    static <M extends Module> M reference(M device, M cpu) {
        cpu.loadStateDict(device.stateDict(), true);
        return cpu;
    }

    /** Runs {@code forward} on both, backward with the same dy, compares output, input gradient and every parameter gradient. */
    static void compare(Module cpu, Module device, DType dtype, Function<Tensor, Tensor> cpuForward, Function<Tensor, Tensor> deviceForward,
                        int... shape) {
        Generator g = new Generator(9);
        Tensor x = rounded(Tensor.randn(g, DType.F32, shape), dtype);
        Tensor xc = x.copy().setRequiresGrad(true);
        Tensor yc = cpuForward.apply(xc);
        Tensor dy = rounded(Tensor.randn(g, DType.F32, yc.shape()), dtype);
        Autograd.backward(yc, dy);
        Tensor xd = x.to(dtype).to(GPU).setRequiresGrad(true);
        Tensor yd = deviceForward.apply(xd);
        Autograd.backward(yd, dy.to(dtype).to(GPU));
        double tol = tolerance(dtype);
        assertClose("output", yc, yd, tol);
        assertClose("input gradient", xc.grad(), xd.grad(), tol);
        assertGradsClose(cpu.namedParameters(), device.namedParameters(), tol);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void loraLinearInF32(Variant v) { loraLinear(v, DType.F32); }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void loraLinearInBf16(Variant v) { loraLinear(v, DType.BF16); }

    void loraLinear(Variant v, DType dtype) {
        LoraLinear device = lora(dtype, v.spec);
        LoraLinear cpu = reference(device, lora(DType.F32, v.spec));
        device.to(GPU);
        compare(cpu, device, dtype, cpu::forward, device::forward, 3, 5, IN);

        double tol = tolerance(dtype);
        cpu.eval();
        device.eval();
        Tensor w0 = cpu.baseLayer().weight().copy();
        cpu.merge();
        device.merge();
        assertClose("merged weight", cpu.baseLayer().weight(), device.baseLayer().weight(), tol);
        Tensor x = rounded(Tensor.randn(new Generator(10), DType.F32, 4, IN), dtype);
        try (NoGrad s = NoGrad.enter()) {
            assertClose("merged output", cpu.forward(x), device.forward(x.to(dtype).to(GPU)), tol);
        }
        cpu.unmerge();
        device.unmerge();
        assertClose("unmerged weight", w0, device.baseLayer().weight(), tol);
    }

    @Test
    void aMixedBatchOfThreeAdaptersOfDifferentRanks() {
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            LoraLinear device = mixed(dtype), cpu = reference(device, mixed(DType.F32));
            device.to(GPU);
            String[] perToken = {"a", "b", null, "c", "a", "a", "c", null, "b", "a", "c", "c"};
            cpu.setTokenAdapters(perToken);
            device.setTokenAdapters(perToken);
            compare(cpu, device, dtype, cpu::forward, device::forward, 3, 4, IN);
            assertEquals(GPU, device.adapter("b").a().grad().device());
        }
    }

    static LoraLinear mixed(DType dtype) {
        AdapterSpec spec = AdapterSpec.of(4, 8).withInit(LoraInit.RANDOM);
        LoraLinear l = new LoraLinear(new Linear(IN, OUT, false, dtype, new Generator(3)), "a", spec, new Generator(4));
        l.addAdapter("b", spec.withR(8).withRslora(true), new Generator(5));
        l.addAdapter("c", spec.withR(2).withAlpha(3), new Generator(6));
        l.setActiveAdapters("a", "b", "c");
        return l;
    }

    @Test
    void expertLoraOnSortedRowsWithIdleExperts() {
        int[] offsets = {0, 3, 3, 9, 9, 10, 16};                                 // experts 1 and 3 get no rows
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            ExpertLora device = expertLora(dtype), cpu = reference(device, expertLora(DType.F32));
            reference(device.experts(), cpu.experts());                               // the frozen experts' values too
            device.to(GPU);
            device.experts().to(GPU);
            compare(cpu, device, dtype, x -> cpu.forward(x, offsets), x -> device.forward(x, offsets), 16, 24);
        }
    }

    static ExpertLora expertLora(DType dtype) {
        GroupedExperts experts = new GroupedExperts(6, 24, 20, ExpertActivation.SILU, true, dtype, new Generator(7), 0.1);
        AdapterSpec spec = AdapterSpec.of(4, 8).withInit(LoraInit.RANDOM).withDropout(0.1);
        return new ExpertLora(experts, spec, true, true, new Generator(8));
    }

    @Test
    void expertLoraInsideAnMoeLayer() {
        MoeOptions o = new MoeOptions().hiddenSize(24).intermediateSize(16).experts(6).topK(2).seed(5).initStd(0.3, 0.1);
        MoeLayer deviceLayer = new MoeLayer(o), cpuLayer = new MoeLayer(o);
        ExpertLora device = ExpertLora.attach(deviceLayer, AdapterSpec.of(4, 8).withInit(LoraInit.RANDOM), new Generator(2));
        ExpertLora cpu = ExpertLora.attach(cpuLayer, AdapterSpec.of(4, 8).withInit(LoraInit.RANDOM), new Generator(2));
        deviceLayer.to(GPU);
        device.to(GPU);
        compare(cpu, device, DType.F32, cpuLayer::forward, deviceLayer::forward, 20, 24);
        assertGradsClose(cpuLayer.namedParameters(), deviceLayer.namedParameters(), DeviceTestSupport.F32_TOL);
    }
}
