package dev.moe4j.lora.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.lora.AdapterSpec;
import dev.moe4j.lora.LoraInit;
import dev.moe4j.lora.LoraLinear;
import dev.moe4j.lora.SegmentedLora;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.List;

import org.junit.jupiter.api.Test;

/** LoRA layers on CPU tensors stay on the CPU path, and moving them to the CPU changes nothing. */
class LoraCpuPathTest {
    @Test
    void aMixedBatchOnTheCpuStaysThereAndMatchesTheLoop() {
        AdapterSpec spec = AdapterSpec.of(4, 8).withInit(LoraInit.RANDOM);
        LoraLinear l = new LoraLinear(new Linear(12, 10, true, DType.F32, new Generator(1)), "a", spec, new Generator(2));
        l.addAdapter("b", spec.withR(2), new Generator(3));
        Tensor a = l.adapter("a").a();
        assertSame(l, l.to(Device.CPU));
        assertSame(a, l.adapter("a").a(), "a move to the CPU keeps the parameters");

        Tensor x = Tensor.randn(new Generator(4), DType.F32, 6, 12).setRequiresGrad(true);
        int[] ids = {0, 1, -1, 1, 0, 0};
        List<Tensor> as = List.of(l.adapter("a").a(), l.adapter("b").a()), bs = List.of(l.adapter("a").b(), l.adapter("b").b());
        double[] s = {l.adapter("a").scaling(), l.adapter("b").scaling()};
        Tensor grouped = SegmentedLora.delta(x, ids, as, bs, s);
        Tensor loop = SegmentedLora.deltaLoop(x.detach(), ids, as, bs, s);
        assertEquals(Device.CPU, grouped.device());
        float[] g = grouped.toFloatArray(), w = loop.toFloatArray();
        for (int i = 0; i < g.length; i++) assertEquals(w[i], g[i], 1e-5, "delta at " + i);
        Autograd.backward(grouped, Tensor.ones(DType.F32, grouped.shape()));
        assertEquals(Device.CPU, x.grad().device());
        assertEquals(Device.CPU, l.adapter("a").a().grad().device());
    }
}
