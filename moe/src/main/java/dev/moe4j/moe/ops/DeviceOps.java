package dev.moe4j.moe.ops;

import dev.moe4j.kernels.cuda.DeviceBuffer;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaTensors;

/**
 * The small pieces the MoE and LoRA functions need to run on a CUDA device: which side a tensor is
 * on, zeros and index tensors on a given device, and the device buffer of an int tensor (for the
 * kernels' offsets). Everything the host computes (masks, noise, offsets) is made on the CPU with
 * the same code as the CPU path and uploaded, so both devices see the same values.
 */
public final class DeviceOps {
    private DeviceOps() {}

    /** True when {@code t} lives on a CUDA device. */
    public static boolean onCuda(Tensor t) {
        return !t.device().isCpu();
    }

    /** A new contiguous tensor of zeros on {@code device}. */
    public static Tensor zeros(DType dtype, Device device, int... shape) {
        if (device.isCpu()) return Tensor.zeros(dtype, shape);
        Tensor t = CudaTensors.empty(dtype, device.index(), shape);
        if (t.numel() > 0) CudaTensors.storage(t).buffer().zero();
        return t;
    }

    /** {@code values} as an I32 vector on {@code device}. */
    public static Tensor ints(int[] values, Device device) {
        return Tensor.of(values, values.length).to(device);
    }

    /** The device buffer of a contiguous I32 CUDA tensor, e.g. offsets for the grouped GEMM. */
    public static DeviceBuffer intBuffer(Tensor t) {
        if (t.dtype() != DType.I32) throw new IllegalArgumentException("expected an I32 tensor, got " + t.dtype() + " " + Shape.str(t.shape()));
        return CudaTensors.buffer(t.contiguous());
    }

    /**
     * Checks the dtype of an activation on a CUDA device: the MoE kernels compute in F32 or BF16.
     *
     * @throws IllegalArgumentException naming the op and argument otherwise
     */
    public static void requireDeviceCompute(String op, String arg, Tensor t) {
        if (t.dtype() != DType.F32 && t.dtype() != DType.BF16) {
            throw new IllegalArgumentException(op + " on " + t.device() + ": " + arg + " must be F32 or BF16, got " + t.dtype() + " " + Shape.str(t.shape()));
        }
    }

    /**
     * Checks the dtype of an activation for the device it is on: F32 or F64 on the CPU (see
     * {@link TensorArrays#requireCompute}), F32 or BF16 on a CUDA device.
     */
    public static void requireCompute(String op, String arg, Tensor t) {
        if (onCuda(t)) requireDeviceCompute(op, arg, t);
        else TensorArrays.requireCompute(op, arg, t);
    }
}
