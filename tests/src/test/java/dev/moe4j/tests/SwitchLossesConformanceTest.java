package dev.moe4j.tests;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.moe.balance.BalanceLosses;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance of the balance losses with Hugging Face transformers: for every {@code *_switch_losses}
 * file of {@code golden.dir}, {@code load_balancing_loss_func(softmax(logits), argmax)} and
 * {@code router_z_loss_func(logits)} with their gradients w.r.t. the logits, computed in float32.
 * One container per file, named after it.
 */
class SwitchLossesConformanceTest {

    @TestFactory
    Stream<DynamicNode> switchLosses() throws IOException {
        List<Path> files = Golden.files("_switch_losses");
        assertFalse(files.isEmpty(), "no *_switch_losses reference files in " + Golden.dir().toAbsolutePath());
        return files.stream().map(f -> DynamicContainer.dynamicContainer(Golden.name(f), f.toUri(), Stream.of(
                DynamicTest.dynamicTest(Golden.name(f) + ": load_balancing_loss", f.toUri(), () -> check(f, true)),
                DynamicTest.dynamicTest(Golden.name(f) + ": router_z_loss", f.toUri(), () -> check(f, false)))));
    }

    private static void check(Path file, boolean balancing) throws IOException {
        Map<String, Tensor> ref = Golden.load(file);
        Tensor logitsRef = ref.get("router_logits");
        assertNotNull(logitsRef, file + " lacks router_logits");
        Tensor logits = logitsRef.to(DType.F32).copy().setRequiresGrad(true);
        Tensor loss;
        String lossName, gradName;
        if (balancing) {
            Tensor index = ref.get("expert_index");
            assertNotNull(index, file + " lacks expert_index");
            int k = index.numel() == logits.numel() / logits.size(-1) ? 1 : index.size(-1);
            loss = BalanceLosses.switchLoadBalancingFromLogits(logits, index.toIntArray(), k);
            lossName = "load_balancing_loss";
            gradName = "grad_lb_logits";
        } else {
            loss = BalanceLosses.zLoss(logits);
            lossName = "z_loss";
            gradName = "grad_z_logits";
        }
        Tensor want = ref.get(lossName), wantGrad = ref.get(gradName);
        assertNotNull(want, file + " lacks " + lossName);
        assertNotNull(wantGrad, file + " lacks " + gradName);
        double err = Golden.relativeError(new double[] {loss.item()}, want.toDoubleArray());
        assertTrue(err <= Tolerances.OUTPUT, lossName + ": " + loss.item() + " vs " + want.toDoubleArray()[0] + ", relative error " + err);
        Tensor grad = Autograd.grad(loss, null, false, logits)[0];
        double gerr = Golden.relativeError(grad.toDoubleArray(), wantGrad.toDoubleArray());
        assertTrue(gerr <= Tolerances.GRADIENT, gradName + ": relative error " + gerr + " exceeds " + Tolerances.GRADIENT);
    }
}
