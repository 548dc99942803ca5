package dev.moe4j.bench;

import dev.moe4j.bench.insight.Fmt;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The walkthrough command: its output and its answers to bad input. */
class WalkthroughTest {
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Walkthrough.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void printsEveryStageAndFollowsOneToken() {
        Result r = run("--capacity-factor", "1.0", "--token", "3", "--warmup", "0");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("1. router", "logits [8, 4]", "2a. histogram and offsets", "2b. permutation", "2c. dropped pairs",
                "3. grouped GEMM problem list", "4. combine", "5. balance", "switch_aux", "6. backward", "Permute.permuteBackward",
                "stage times", "token 3 through the MoE layer");
    }

    @Test
    void loraOnTheExpertsShowsTheAdapterGemmsAndItsGradients() {
        Result r = run("--lora", "4", "--warmup", "1", "--token", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("CUDA: ", "LoRA on the experts: r = 4, alpha = " + Fmt.num(8) + ", s = alpha/r = " + Fmt.num(2), "3b. LoRA on the experts",
                "gate_up_proj.lora_A [4, 4, 8]", "down_proj.lora_A [4, 4, 16], lora_B [4, 8, 4]", "6b. LoRA backward",
                "check: the frozen expert weights' grad is null, every A and B has a gradient", "experts (override)");
        assertThat(r.out()).doesNotContain("check FAILED");
        r = run("--lora", "2", "--lora-alpha", "3", "--warmup", "0");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("alpha = " + Fmt.num(3) + ", s = alpha/r = " + Fmt.num(1.5));
        r = run("--lora-alpha", "3");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--lora-alpha goes with --lora R");
        r = run("--lora", "9");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("exceeds min(d, U)");
    }

    @Test
    void everyRouterKindRuns() {
        for (String router : TrainMoe.Options.ROUTERS.keySet()) {
            String k = router.equals("switch") || router.equals("expert-choice") || router.equals("hash") ? "1" : "2";
            Result r = run("--router", router, "--k", k, "--tokens", "5", "--warmup", "0", "--balance", "none");
            assertThat(r.code()).as(router + ": " + r.err()).isZero();
            assertThat(r.out()).as(router).contains("6. backward");
        }
    }

    @Test
    void badInputExitsWithTwoAndListsWhatIsAccepted() {
        Result r = run("--router", "fancy");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("unknown router kind 'fancy'", "softmax, deepseek, switch, noisy, expert-choice, hash, top-p, null");
        r = run("--experts", "0");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--experts (E) must be in [1, 1024], got 0");
        r = run("--experts", "4", "--k", "5");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--k must be in [1, E = 4], got 5");
        r = run("--router", "switch", "--k", "2");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("switch is top-1");
        r = run("--tokens", "4", "--token", "4");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("accepted: 0..3");
        r = run("--balance", "lossfree", "--router", "switch", "--k", "1");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("selection bias");
        r = run("--bogus", "1");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("unknown option --bogus", "usage:");
    }

    @Test
    void fileWithoutAnMoeBlockIsRefused(@TempDir Path dir) throws Exception {
        Path plain = dir.resolve("plain.safetensors");
        SafetensorsWriter.save(plain, Map.of("weight", Tensor.zeros(DType.F32, 2, 2)));
        Result r = run("--file", plain.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("holds no MoE block", "mixtral, qwen2_moe, deepseek_v3, switch_transformers");
        Path other = dir.resolve("llama.safetensors");
        SafetensorsWriter.save(other, Map.of("weight", Tensor.zeros(DType.F32, 2, 2)), Map.of("config", "{\"model_type\": \"llama\"}"));
        r = run("--file", other.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("llama", "accepted:");
        Path notSafetensors = Files.writeString(dir.resolve("notes.txt"), "hello");
        r = run("--file", notSafetensors.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("accepted:");
        r = run("--file", dir.resolve("missing.safetensors").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("cannot read");
    }

    @Test
    void referenceFileReproducesItsOutputAndGradient() {
        Path file = Path.of(System.getProperty("golden.dir", "../../shared/golden"), "public_switch_moe.safetensors");
        assumeTrue(Files.isReadable(file), "reference file " + file + " not present");
        Result r = run("--file", file.toString(), "--token", "0", "--warmup", "0", "--rows", "4");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("SwitchTransformersSparseMLP", "'input' of the file", "check against the file");
        String line = r.out().lines().filter(l -> l.startsWith("check against the file")).findFirst().orElseThrow();
        double outErr = Double.parseDouble(line.replaceAll(".*output relative error ([^,]+),.*", "$1"));
        double gradErr = Double.parseDouble(line.replaceAll(".*input gradient relative error (\\S+).*", "$1"));
        assertThat(outErr).isLessThan(1e-5);
        assertThat(gradErr).isLessThan(1e-4);
    }
}
