package dev.moe4j.moe.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.moe.Routing;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** A layer on CPU tensors never takes a device branch, and moving it to the CPU changes nothing. */
class CpuPathTest {
    @Test
    void theGpuTestsInputsRouteTheirTokensToTheChosenExperts() {
        for (RouterKind kind : new RouterKind[] {RouterKind.SOFTMAX_TOPK, RouterKind.DEEPSEEK_V3, RouterKind.SWITCH}) {
            int k = kind == RouterKind.SWITCH ? 1 : 2;
            MoeOptions o = MoeLayerCudaTest.options().router(kind).topK(k);
            if (kind == RouterKind.DEEPSEEK_V3) o.groups(4, 2);
            MoeLayer layer = new MoeLayer(o);
            Generator g = new Generator(21);
            int[][] choices = MoeLayerCudaTest.choices(g, 16, k, new int[] {0, 1, 2, 5});
            Tensor x = MoeLayerCudaTest.separatedTokens(layer.router().parameters().get(0), choices, g);
            for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
                layer.forward(DeviceTestSupport.rounded(x, dtype));
                int[] ids = layer.lastRouting().expertIds();
                for (int t = 0; t < choices.length; t++) {
                    for (int j = 0; j < k; j++) assertEquals(choices[t][j], ids[t * k + j], kind + " " + dtype + ": token " + t + ", slot " + j);
                }
            }
        }
    }

    @Test
    void aCpuLayerRoutesAndTrainsOnTheHost() {
        for (RouterKind kind : new RouterKind[] {RouterKind.SOFTMAX_TOPK, RouterKind.DEEPSEEK_V3, RouterKind.SWITCH}) {
            MoeOptions o = new MoeOptions().router(kind).topK(kind == RouterKind.SWITCH ? 1 : 2).hiddenSize(16).intermediateSize(8)
                    .experts(4).seed(3);
            if (kind == RouterKind.SWITCH) o.capacityFactor(1.0);
            MoeLayer layer = new MoeLayer(o);
            List<Tensor> before = new ArrayList<>(layer.parameters());
            assertSame(layer, layer.to(Device.CPU));
            List<Tensor> after = layer.parameters();
            for (int i = 0; i < before.size(); i++) assertSame(before.get(i), after.get(i), kind + ": a move to the CPU keeps the tensors");
            assertSame(before.get(0), layer.router().parameters().get(0), kind + ": fields still hold the registered tensors");

            Tensor x = Tensor.randn(new Generator(4), DType.F32, 10, 16).setRequiresGrad(true);
            Tensor y = layer.forward(x);
            Autograd.backward(y, Tensor.ones(DType.F32, 10, 16));
            Routing r = layer.lastRouting();
            assertFalse(r.builtOnDevice(), kind + ": no device plan");
            assertNull(r.deviceIds(), kind + ": no device ids");
            assertArrayEquals(r.plan().offsets(), r.offsets(), kind + ": offsets");
            assertEquals(Device.CPU, y.device());
            assertEquals(Device.CPU, x.grad().device());
            for (Tensor p : layer.parameters()) assertEquals(Device.CPU, p.grad().device(), kind + ": gradients on the CPU");
        }
    }
}
