package dev.moe4j.lora.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.kernels.cuda.KernelBuild;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.testing.Agreement;

import java.util.Map;

import org.junit.jupiter.api.Assumptions;

/**
 * Shared pieces of the device layer tests: the device (or a JUnit assumption failure naming why
 * there is none), and the comparisons of device results with the CPU's. Tolerances live here.
 */
final class DeviceTestSupport {
    private DeviceTestSupport() {}

    /** F32 on the device vs F32 on the CPU, relative to the largest |CPU value| of the tensor. */
    static final double F32_TOL = Agreement.F32;
    /** BF16 on the device vs F32 on the CPU with the same (rounded) parameters and inputs. */
    static final double BF16_TOL = Agreement.BF16;
    /**
     * BF16 gradients of routing parameters (routers, gates, keys, thresholds) reached through a
     * softmax over a few selected logits and, in a model, through an earlier bf16 layer: each row of the
     * softmax Jacobian sums to zero, so these gradients are differences of nearly equal bf16 terms and
     * their relative error runs up to about twice that of the activations.
     */
    static final double BF16_ROUTING_GRAD_TOL = 2e-2;

    static final Device GPU = Device.cuda(0);

    /** Skips the test, naming the reason, when there is no CUDA device or the kernels are not built. */
    static void requireGpu() {
        Assumptions.assumeTrue(CudaProbe.available(), () -> "no CUDA device: " + CudaProbe.reason());
        Assumptions.assumeTrue(KernelBuild.available(), () -> "CUDA kernels not built: " + KernelBuild.reason());
    }

    static double tolerance(DType dtype) {
        return dtype == DType.BF16 ? BF16_TOL : F32_TOL;
    }

    /** {@code t} with its elements rounded to {@code dtype} and back to F32 (the CPU's view of a BF16 tensor). */
    static Tensor rounded(Tensor t, DType dtype) {
        return t.to(dtype).to(DType.F32);
    }

    /** Checks that a device tensor holds the CPU's values: on the device, then {@link Agreement#assertClose}. */
    static void assertClose(String what, Tensor want, Tensor got, double tol) {
        assertCloseOn(GPU, what, want, got, tol);
    }

    /** {@link #assertClose} for a result expected on {@code device} (the CPU runs of the device cases). */
    static void assertCloseOn(Device device, String what, Tensor want, Tensor got, double tol) {
        assertNotNull(want, what + ": no CPU value");
        assertNotNull(got, what + ": no device value");
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        assertEquals(device, got.device(), what + ": not on " + device);
        Agreement.assertClose(what, want, got, tol);
    }

    /** Compares the gradient of every parameter by name (both null, or both present and close). */
    static void assertGradsClose(Map<String, Tensor> want, Map<String, Tensor> got, double tol) {
        assertGradsCloseOn(GPU, want, got, tol);
    }

    /** {@link #assertGradsClose} for gradients expected on {@code device}. */
    static void assertGradsCloseOn(Device device, Map<String, Tensor> want, Map<String, Tensor> got, double tol) {
        assertGradsCloseOn(device, want, got, name -> tol);
    }

    /** {@link #assertGradsCloseOn} with a tolerance per parameter name. */
    static void assertGradsCloseOn(Device device, Map<String, Tensor> want, Map<String, Tensor> got, java.util.function.ToDoubleFunction<String> tolerance) {
        assertEquals(want.keySet(), got.keySet(), "parameter names");
        for (String name : want.keySet()) {
            Tensor gw = want.get(name).grad(), gg = got.get(name).grad();
            if (gw == null && gg == null) continue;
            if (gw == null || gg == null) fail("gradient of " + name + ": CPU " + (gw == null ? "none" : "present") + ", device " + (gg == null ? "none" : "present"));
            assertCloseOn(device, "gradient of " + name, gw, gg, tolerance.applyAsDouble(name));
        }
    }
}
