package dev.moe4j.moe.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import org.junit.jupiter.api.Test;

/**
 * The formulas the device branches compose from generic tensor ops, run on the CPU against the CPU
 * functions (so a wrong formula shows here, without a GPU), and the rule that CPU tensors never take
 * a device branch.
 */
class ComposedOpsTest {
    static void close(String what, double[] want, double[] got, double tol) {
        assertEquals(want.length, got.length, what + " length");
        double scale = 1e-3;
        for (double w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], tol * scale, what + " at " + i);
    }

    @Test
    void activationFormulasMatchTheCpuFunction() {
        Generator g = new Generator(3);
        for (ExpertActivation act : ExpertActivation.values()) {
            for (boolean gated : new boolean[] {true, false}) {
                Tensor h = Tensor.randn(g, DType.F64, 6, 14).mul(2);
                h.set(0.0, 1, 3);                                       // gelu' at 0, relu' at 0
                Tensor hc = h.copy().setRequiresGrad(true);
                Tensor a = new ExpertActivationFunction(act, gated).apply(hc);
                Tensor da = Tensor.randn(g, DType.F64, a.shape());
                Autograd.backward(a, da);
                String what = act + (gated ? " gated" : "");
                close(what + " forward", a.toDoubleArray(), ExpertActivationFunction.composedForward(act, gated, h).toDoubleArray(), 1e-9);
                close(what + " backward", hc.grad().toDoubleArray(), ExpertActivationFunction.composedBackward(act, gated, h, da).toDoubleArray(), 1e-9);
            }
        }
    }

    @Test
    void balanceLossFormulasMatchTheCpuFunctions() {
        Generator g = new Generator(4);
        int G = 2, S = 5, E = 4, k = 2;
        Tensor logits = Tensor.randn(g, DType.F64, G, S, E);
        int[] ids = new int[G * S * k];
        for (int t = 0; t < G * S; t++) { ids[t * k] = t % E; ids[t * k + 1] = t % 3 == 0 ? -1 : (t + 1) % E; }
        Tensor go = Tensor.scalar(DType.F64, 1.7);

        Tensor probs = logits.softmax(-1).setRequiresGrad(true);
        LoadBalancingLoss lb = new LoadBalancingLoss(ids, k);
        Tensor l = lb.apply(probs);
        Autograd.backward(l, go);
        close("switch loss", new double[] {l.item()}, new double[] {LoadBalancingLoss.composedLoss(probs.detach(), lb.fractions(), G, S, E).item()}, 1e-6);
        close("switch loss gradient", probs.grad().toDoubleArray(),
                LoadBalancingLoss.composedGrad(go, lb.fractions(), G, S, E, probs.shape(), DType.F64).toDoubleArray(), 1e-6);

        Tensor scores = logits.sigmoid().setRequiresGrad(true);
        SequenceBalanceLoss sb = new SequenceBalanceLoss(ids, k);
        l = sb.apply(scores);
        Autograd.backward(l, go);
        close("sequence loss", new double[] {l.item()}, new double[] {SequenceBalanceLoss.composedLoss(scores.detach(), sb.fractions(), G, S, E).item()}, 1e-6);
        close("sequence loss gradient", scores.grad().toDoubleArray(),
                SequenceBalanceLoss.composedGrad(scores.detach(), go, sb.fractions(), G, S, E).toDoubleArray(), 1e-6);

        Tensor lg = logits.copy().setRequiresGrad(true);
        l = new RouterZLoss().apply(lg);
        Autograd.backward(l, go);
        close("z-loss", new double[] {l.item()}, new double[] {RouterZLoss.composedLoss(logits, G * S, E).item()}, 1e-6);
        close("z-loss gradient", lg.grad().toDoubleArray(), RouterZLoss.composedGrad(logits, go, G * S, E).toDoubleArray(), 1e-6);
    }

    @Test
    void cpuTensorsStayOnTheCpuPath() {
        Generator g = new Generator(5);
        Tensor logits = Tensor.randn(g, DType.F32, 7, 6).setRequiresGrad(true);
        Gate gate = new Gate(GatingConfig.mixtral(2), null);
        Tensor w = gate.apply(logits);
        assertNull(gate.deviceIds(), "a CPU gate keeps no device ids");
        assertEquals(Device.CPU, w.device());
        assertEquals(Device.CPU, gate.scores().device());
        assertArrayEquals(new int[] {7, 2}, w.shape());
        Tensor z = DeviceOps.zeros(DType.F32, Device.CPU, 2, 3);
        assertArrayEquals(new float[6], z.toFloatArray());
        assertEquals(Device.CPU, z.device());
        Tensor bf = Tensor.zeros(DType.BF16, 3, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceOps.requireCompute("op", "x", bf));
        assertEquals("op: x must be F32 or F64, got BF16 [3, 4]", e.getMessage());
    }
}
