package dev.moe4j.lora;

import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

/**
 * The device rule of the LoRA layers, checked before a forward does any work (draws a dropout mask,
 * runs a router): the input lives on the layer's device, and on a CUDA device it is F32 or BF16, the
 * dtypes the device's routing and grouped GEMM kernels compute in. On the CPU every dtype the layer
 * accepts stays allowed.
 */
public final class DeviceChecks {
    private DeviceChecks() {}

    /**
     * @param layer  the layer's name, for the message
     * @param x      the input
     * @param weight a parameter of the layer (its device is the layer's)
     * @throws IllegalArgumentException naming the layer, the devices and the dtype otherwise
     */
    public static void require(String layer, Tensor x, Tensor weight) {
        if (!x.device().equals(weight.device())) {
            throw new IllegalArgumentException(layer + ": input " + Shape.str(x.shape()) + " is on " + x.device() + ", the layer on " + weight.device()
                    + " (move one of them with to(Device))");
        }
        if (!x.device().isCpu() && x.dtype() != DType.F32 && x.dtype() != DType.BF16) {
            throw new IllegalArgumentException(layer + " on " + x.device() + ": input must be F32 or BF16, got " + x.dtype() + " " + Shape.str(x.shape()));
        }
    }
}
