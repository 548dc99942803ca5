package dev.moe4j.tensor.cuda;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Storage;
import dev.moe4j.tensor.Tensor;

import org.junit.jupiter.api.Test;

/**
 * Rules of the device pointwise path that hold on any machine: operands on two devices and dtypes
 * the device does not compute in are refused with the devices or the dtype named, before any memory
 * is touched. A storage that only claims to live on cuda:0 stands in for a device tensor.
 */
class CudaPointwiseRulesTest {

    /** Claims to be on cuda:0 with the given dtype; holds nothing. */
    record Elsewhere(DType dtype, int size) implements Storage {
        @Override public Device device() { return Device.cuda(0); }
        @Override public int version() { return 0; }
        @Override public void bumpVersion() {}
    }

    static Tensor onCuda(DType dtype, int... shape) {
        return new Tensor(new Elsewhere(dtype, (int) Shape.numel(shape)), shape, Shape.contiguousStrides(shape), 0);
    }

    @Test
    void mixingDevicesNamesBothDevices() {
        Tensor cpu = Tensor.ones(2, 3), gpu = onCuda(DType.F32, 2, 3), mask = onCuda(DType.BOOL, 2, 3);
        assertThatThrownBy(() -> gpu.mul(cpu)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("mul").hasMessageContaining("cpu").hasMessageContaining("cuda:0");
        assertThatThrownBy(() -> gpu.ge(cpu)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cpu").hasMessageContaining("cuda:0");
        assertThatThrownBy(() -> Tensor.where(mask, cpu, gpu)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("where").hasMessageContaining("cpu").hasMessageContaining("cuda:0");
        assertThatThrownBy(() -> cpu.maskedFill(mask, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maskedFill").hasMessageContaining("cuda:0");
        assertThatThrownBy(() -> gpu.addInPlace(cpu, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("addInPlace").hasMessageContaining("cpu");
        assertThatThrownBy(() -> cpu.copyFrom(gpu)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("copyFrom").hasMessageContaining("cuda:0");
        assertThatThrownBy(() -> gpu.copyFrom(cpu)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("copyFrom").hasMessageContaining("cpu");
    }

    @Test
    void dtypesTheDeviceDoesNotComputeInAreNamed() {
        Tensor d = onCuda(DType.F64, 4), h = onCuda(DType.F16, 4);
        assertThatThrownBy(() -> d.add(d)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("F64").hasMessageContaining("CUDA");
        assertThatThrownBy(() -> d.mul(2.0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        assertThatThrownBy(d::exp).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        assertThatThrownBy(() -> d.lt(d)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        assertThatThrownBy(() -> d.to(DType.F32)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        assertThatThrownBy(() -> onCuda(DType.F32, 4).to(DType.F64)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        assertThatThrownBy(h::relu).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F16");
        assertThatThrownBy(() -> d.maskedFill(onCuda(DType.BOOL, 4), 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        assertThatThrownBy(() -> d.mulInPlace(2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
        assertThatThrownBy(() -> Tensor.where(onCuda(DType.BOOL, 4), d, d)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F64");
    }

    @Test
    void theCpuChecksRunFirstOnDeviceOperandsToo() {
        Tensor a = onCuda(DType.F32, 2, 3), b = onCuda(DType.F32, 4);
        assertThatThrownBy(() -> a.add(b)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 3]").hasMessageContaining("[4]");
        assertThatThrownBy(() -> a.maskedFill(onCuda(DType.F32, 2, 3), 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BOOL");
        assertThatThrownBy(() -> a.expand(4, 2, 3).addInPlace(a)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expanded");
        assertThatThrownBy(() -> onCuda(DType.BOOL, 3).neg()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BOOL");
        assertThatThrownBy(() -> onCuda(DType.I32, 3).mulInPlace(0.5)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0.5");
    }
}
