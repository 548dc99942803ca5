package dev.moe4j.tensor.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Storage;
import dev.moe4j.tensor.Tensor;

import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Device rules that hold on any machine: mixing devices is an {@link IllegalArgumentException} naming
 * both, and moving a tensor to a CUDA device without CUDA names the reason. A storage that only claims
 * to live on cuda:0 stands in for a device tensor (no memory behind it; the checks run before any is
 * touched).
 */
class DeviceRulesTest {

    /** Claims to be on cuda:0; holds nothing. */
    static final class ElsewhereStorage implements Storage {
        final int size;
        ElsewhereStorage(int size) { this.size = size; }
        @Override public DType dtype() { return DType.F32; }
        @Override public int size() { return size; }
        @Override public Device device() { return Device.cuda(0); }
        @Override public int version() { return 0; }
        @Override public void bumpVersion() {}
    }

    static Tensor onCuda(int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        return new Tensor(new ElsewhereStorage(n), shape, dev.moe4j.tensor.Shape.contiguousStrides(shape), 0);
    }

    @Test
    void mixingDevicesNamesBoth() {
        Tensor cpu = Tensor.ones(2, 3), gpu = onCuda(3, 2), gpuSame = onCuda(2, 3);
        assertThatThrownBy(() -> cpu.matmul(gpu)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("matmul").hasMessageContaining("cpu").hasMessageContaining("cuda:0");
        assertThatThrownBy(() -> cpu.add(gpuSame)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cpu").hasMessageContaining("cuda:0");
        assertThatThrownBy(() -> cpu.lt(gpuSame)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cuda:0");
        assertThatThrownBy(() -> Tensor.cat(List.of(cpu, gpuSame), 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cat");
        assertThatThrownBy(() -> cpu.indexSelect(0, onCuda(1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("indexSelect");
        assertThatThrownBy(() -> cpu.addInPlace(gpuSame)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("addInPlace");
    }

    @Test
    void aTensorIsAlreadyOnItsOwnDevice() {
        Tensor t = Tensor.ones(2, 2);
        assertThat(t.to(Device.CPU)).isSameAs(t);
        assertThat(t.cpu()).isSameAs(t);
        Tensor g = onCuda(2);
        assertThat(g.to(Device.cuda(0))).isSameAs(g);
    }

    @Test
    void movingToCudaWithoutCudaNamesTheReason() {
        if (CudaProbe.available()) return;                 // covered by the GPU tests there
        assertThatThrownBy(() -> Tensor.ones(2, 2).to(Device.cuda(0)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("CUDA is unavailable").hasMessageContaining(CudaProbe.reason());
    }

    @Test
    void moeKernelsOnCpuTensorsAreRefused() {
        Tensor x = Tensor.ones(4, 8);
        assertThatThrownBy(() -> CudaMoe.gating(dev.moe4j.kernels.cpu.moe.GatingConfig.mixtral(2), x, null, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("CUDA device");
    }
}
