package dev.moe4j.bench;

import dev.moe4j.bench.insight.Fmt;
import dev.moe4j.bench.insight.LoraView;
import dev.moe4j.bench.insight.StagedPass;
import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.lora.AdapterSpec;
import dev.moe4j.lora.ExpertLora;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.moe.balance.Balancing;
import dev.moe4j.moe.hf.HfMoeBlock;
import dev.moe4j.moe.hf.HfMoeConfig;
import dev.moe4j.moe.hf.HfMoeLoader;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.io.SafetensorsFile;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The walkthrough: runs one MoE layer on a small batch and prints every stage as its kernel sees
 * it, in plain-text tables: router logits and scores, chosen experts and gate weights, the
 * per-expert histogram and offsets, the permutation table, dropped pairs, the grouped GEMM problem
 * list, the combine, the balance losses, the backward stage by stage, and the stage times.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.moe4j.bench.Main walkthrough [options]
 * </pre>
 * The layer is built from options (weights drawn from N(0, 1/d) so that the router is decisive), or
 * loaded from a Hugging Face MoE block in a safetensors file ({@code --file}); a reference file's
 * {@code input} and {@code grad_output} are then used as the batch and the upstream gradient, and
 * the output is compared with its {@code output}. Otherwise the batch is x ~ N(0, 1) and the upstream
 * gradient dy ~ N(0, 1), both seeded. {@code --token N} follows one token through every stage.
 * {@code --lora R} attaches LoRA of rank R to the experts ({@link ExpertLora}, alpha = 2R unless
 * {@code --lora-alpha} is given), which freezes the layer, and adds the adapters' shrink and expand
 * GEMMs and their gradients. The header says whether a CUDA device is there (no device code runs).
 * Bad input prints what is accepted and exits with status 2. The stages are the objects of
 * {@link dev.moe4j.bench.insight} ({@link StagedPass} and its views), usable on their own.
 */
public final class Walkthrough {
    private Walkthrough() {}

    /** Largest E and T the walkthrough accepts (it prints tables, not a benchmark). */
    static final int MAX_EXPERTS = 1024, MAX_TOKENS = 1 << 16;

    /** Options with their defaults. */
    static final class Options {
        String router = "softmax";
        int experts = 4, k = 2, d = 8, f = 16, tokens = 8;
        double capacityFactor = Double.POSITIVE_INFINITY;
        long seed = 1;
        String balance = "aux";
        double auxCoef = 0.01;
        int token = -1, rows = 16, warmup = 2;
        boolean train = false;
        Path file, config;
        String prefix;
        boolean tokensGiven;
        int lora = 0;
        Double loraAlpha;
        final java.util.Set<String> layerOptions = new java.util.LinkedHashSet<>();

        static final List<String> BALANCES = List.of("none", "aux", "z", "lossfree");

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--train")) {
                    o.train = true;
                    continue;
                }
                if (!a.startsWith("--") || i + 1 >= args.length) {
                    throw new IllegalArgumentException("expected '--option value', got '" + a + "'");
                }
                String v = args[++i];
                if (List.of("--router", "--experts", "--k", "--d", "--f", "--capacity-factor", "--balance", "--aux-coef").contains(a)) o.layerOptions.add(a);
                switch (a) {
                    case "--router" -> o.router = v;
                    case "--experts" -> o.experts = integer(a, v);
                    case "--k" -> o.k = integer(a, v);
                    case "--d" -> o.d = integer(a, v);
                    case "--f" -> o.f = integer(a, v);
                    case "--tokens" -> {
                        o.tokens = integer(a, v);
                        o.tokensGiven = true;
                    }
                    case "--capacity-factor" -> o.capacityFactor = number(a, v);
                    case "--seed" -> o.seed = integer(a, v);
                    case "--balance" -> o.balance = v;
                    case "--aux-coef" -> o.auxCoef = number(a, v);
                    case "--token" -> o.token = integer(a, v);
                    case "--rows" -> o.rows = integer(a, v);
                    case "--warmup" -> o.warmup = integer(a, v);
                    case "--file" -> o.file = Path.of(v);
                    case "--config" -> o.config = Path.of(v);
                    case "--prefix" -> o.prefix = v;
                    case "--lora" -> o.lora = integer(a, v);
                    case "--lora-alpha" -> o.loraAlpha = number(a, v);
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            o.validate();
            return o;
        }

        void validate() {
            if (file == null && (config != null || prefix != null)) throw new IllegalArgumentException("--config and --prefix go with --file");
            if (file != null && config != null && prefix == null) {
                throw new IllegalArgumentException("--config needs --prefix, the module path of the MoE block in the checkpoint (e.g. model.layers.0.mlp.)");
            }
            if (!TrainMoe.Options.ROUTERS.containsKey(router)) {
                throw new IllegalArgumentException("unknown router kind '" + router + "'; accepted: " + String.join(", ", TrainMoe.Options.ROUTERS.keySet()));
            }
            if (!BALANCES.contains(balance)) {
                throw new IllegalArgumentException("unknown balance '" + balance + "'; accepted: " + String.join(", ", BALANCES));
            }
            if (experts < 1 || experts > MAX_EXPERTS) {
                throw new IllegalArgumentException("--experts (E) must be in [1, " + MAX_EXPERTS + "], got " + experts);
            }
            if (k < 1 || k > experts) throw new IllegalArgumentException("--k must be in [1, E = " + experts + "], got " + k);
            if (router.equals("switch") && k != 1) throw new IllegalArgumentException("--router switch is top-1: --k must be 1, got " + k);
            if (d < 1 || f < 1) throw new IllegalArgumentException("--d and --f must be >= 1, got " + d + " and " + f);
            if (tokens < 1 || tokens > MAX_TOKENS) throw new IllegalArgumentException("--tokens must be in [1, " + MAX_TOKENS + "], got " + tokens);
            if (!(capacityFactor > 0)) throw new IllegalArgumentException("--capacity-factor must be > 0 (inf: no capacity), got " + capacityFactor);
            if (!(auxCoef >= 0) || Double.isInfinite(auxCoef)) throw new IllegalArgumentException("--aux-coef must be finite and >= 0, got " + auxCoef);
            if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
            if (rows < 1) throw new IllegalArgumentException("--rows must be >= 1, got " + rows);
            if (lora < 0 || (lora == 0 && loraAlpha != null)) {
                throw new IllegalArgumentException(lora < 0 ? "--lora (rank r) must be >= 1, got " + lora : "--lora-alpha goes with --lora R");
            }
            if (loraAlpha != null && !Double.isFinite(loraAlpha)) throw new IllegalArgumentException("--lora-alpha must be finite, got " + loraAlpha);
            if (token < -1) throw new IllegalArgumentException("--token must be >= 0, got " + token);
        }

        private static int integer(String name, String v) {
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " needs an integer, got '" + v + "'");
            }
        }

        private static double number(String name, String v) {
            try {
                return Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " needs a number, got '" + v + "'");
            }
        }
    }

    static String usage() {
        return """
                usage: Main walkthrough [--router softmax|deepseek|switch|noisy|expert-choice|hash|top-p|null]
                                        [--experts 4] [--k 2] [--capacity-factor inf] [--d 8] [--f 16] [--tokens 8]
                                        [--seed 1] [--balance none|aux|z|lossfree] [--aux-coef 0.01]
                                        [--token N] [--rows 16] [--warmup 2] [--train] [--lora R [--lora-alpha 2R]]
                       Main walkthrough --file block.safetensors [--token N] [--rows 16]
                       Main walkthrough --file model.safetensors --config config.json --prefix model.layers.0.mlp. [--tokens 8]
                  --file: a Hugging Face MoE block (Mixtral, Qwen2-MoE, DeepSeek-V3, Switch), e.g. a reference file of
                          ../shared/golden whose metadata holds the config; its 'input' is the batch when present
                  --lora R: LoRA of rank R on the experts' gate_up_proj and down_proj (the layer is frozen); alpha 2R by default
                  --token N: follow token N (0 <= N < T) through every stage
                  --warmup N: untimed passes before the printed one, so that its stage times are not the JIT's warm-up""";
    }

    /** Runs the walkthrough; exits with status 2 on bad input. */
    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        if (code != 0) System.exit(code);
    }

    /**
     * Runs the walkthrough, printing to {@code out}; messages about bad input go to {@code err}.
     *
     * @return 0 on success, 2 on bad input (unknown option or router, E or k out of range, a file
     *         without an MoE block, a token outside the batch)
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            out.println(usage());
            return 0;
        }
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("walkthrough: " + e.getMessage());
            err.println(usage());
            return 2;
        }
        Setup s;
        try {
            s = o.file != null ? fromFile(o) : fromOptions(o);
        } catch (IllegalArgumentException e) {
            err.println("walkthrough: " + e.getMessage());
            return 2;
        }
        int T = s.x.numel() / s.layer.hiddenSize();
        if (o.token >= T) {
            err.println("walkthrough: --token " + o.token + " is outside the batch; accepted: 0.." + (T - 1) + " (T = " + T + " tokens)");
            return 2;
        }
        if (o.file != null && !o.layerOptions.isEmpty()) {
            out.println("note: the block in " + o.file + " brings its own settings; " + String.join(", ", o.layerOptions) + " ignored");
        }
        ExpertLora lora = null;
        if (o.lora > 0) {
            double alpha = o.loraAlpha != null ? o.loraAlpha : 2.0 * o.lora;
            try {
                lora = ExpertLora.attach(s.layer, AdapterSpec.of(o.lora, alpha), new Generator(o.seed + 2000));
            } catch (IllegalArgumentException e) {
                err.println("walkthrough: --lora " + o.lora + ": " + e.getMessage());
                return 2;
            }
        }
        if (o.train) s.layer.train();
        else s.layer.eval();
        out.println(s.title);
        if (lora != null) {
            out.println("LoRA on the experts: r = " + o.lora + ", alpha = " + Fmt.num(lora.spec().alpha()) + ", s = alpha/r = "
                    + Fmt.num(lora.spec().scaling()) + "; the layer is frozen, only the experts' A and B train");
        }
        out.println(cudaLine());
        out.println();
        StagedPass pass;
        try {
            for (int i = 0; i < o.warmup; i++) StagedPass.forward(s.layer, s.x, s.tokenIds).backward(s.dy);
            pass = StagedPass.forward(s.layer, s.x, s.tokenIds).shown(o.rows);
        } catch (IllegalArgumentException e) {
            err.println("walkthrough: " + e.getMessage());
            return 2;
        }
        if (lora != null) for (Tensor p : lora.parameters()) p.setGrad(null);
        pass.backward(s.dy);
        String warning = nonFiniteWarning(pass);
        if (warning != null) out.println(warning + "\n");
        out.print(pass);
        if (o.warmup > 0) out.println("(stage times measured after " + o.warmup + " untimed warm-up pass(es); tiny batches are dominated by per-call overhead)");
        if (lora != null) {
            LoraView view = new LoraView(lora, pass.routing().plan().counts());
            out.println();
            out.print(view.table());
            out.println();
            out.print(view.gradients());
        }
        if (s.expected != null) {
            out.println();
            out.println("check against the file: output relative error " + Fmt.num(relativeError(pass.output(), s.expected))
                    + (s.expectedGrad != null ? ", input gradient relative error " + Fmt.num(relativeError(pass.inputGrad(), s.expectedGrad)) : ""));
        }
        if (o.token >= 0) {
            out.println();
            out.print(pass.follow(o.token));
        }
        return 0;
    }

    /** The header's line on CUDA: a device and the MoE kernels' device versions, or why there is none. Runs no device code. */
    static String cudaLine() {
        try {
            if (CudaProbe.available()) {
                return "CUDA: " + CudaProbe.deviceCount() + " device(s) available; the MoE kernels (gating, plan, permute, combine, grouped GEMM)"
                        + " have device versions in dev.moe4j.tensor.cuda.CudaMoe (this walkthrough runs on the CPU)";
            }
            return "CUDA: not available (" + CudaProbe.reason() + "); this walkthrough runs on the CPU";
        } catch (RuntimeException | LinkageError e) {
            return "CUDA: not available (" + e + "); this walkthrough runs on the CPU";
        }
    }

    /** The layer, its batch and upstream gradient. */
    private record Setup(String title, MoeLayer layer, Tensor x, long[] tokenIds, Tensor dy, Tensor expected, Tensor expectedGrad) {}

    private static Setup fromOptions(Options o) {
        RouterKind kind = TrainMoe.Options.ROUTERS.get(o.router);
        double std = 1 / Math.sqrt(o.d);
        MoeOptions m = new MoeOptions().router(kind).experts(o.experts).topK(o.k).hiddenSize(o.d).intermediateSize(o.f)
                .capacityFactor(o.capacityFactor).seed(o.seed).initStd(std, std);
        switch (o.balance) {
            case "aux" -> m.balancing(Balancing.auxLoss(o.auxCoef));
            case "z" -> m.balancing(Balancing.none().withZLoss(o.auxCoef));
            case "lossfree" -> m.balancing(Balancing.lossFree(o.auxCoef)).selectionBias(true);
            default -> m.balancing(Balancing.none());
        }
        MoeLayer layer = new MoeLayer(m);
        Generator g = new Generator(o.seed + 1000);
        Tensor x = Tensor.randn(g, DType.F32, o.tokens, o.d);
        long[] ids = new long[o.tokens];
        for (int t = 0; t < o.tokens; t++) ids[t] = g.nextInt(1000);
        Tensor dy = Tensor.randn(g, DType.F32, o.tokens, o.d);
        String title = "walkthrough: router " + o.router + ", E = " + o.experts + ", k = " + o.k + ", d = " + o.d + ", f = " + o.f
                + ", T = " + o.tokens + " tokens, capacity factor " + (Double.isInfinite(o.capacityFactor) ? "none" : Fmt.num(o.capacityFactor))
                + ", balance " + o.balance + ", seed " + o.seed + (o.train ? ", training mode" : ", eval mode")
                + "\nbatch x ~ N(0, 1) [T, d]; upstream gradient dy ~ N(0, 1) [T, d] (as if L = sum(y * dy))";
        return new Setup(title, layer, x, ids, dy, null, null);
    }

    private static Setup fromFile(Options o) {
        Path file = o.file;
        if (!Files.isReadable(file)) throw new IllegalArgumentException("cannot read " + file + " (no such file, or no permission)");
        String accepted = "accepted: a safetensors file holding one Hugging Face MoE block (model types mixtral, qwen2_moe, deepseek_v3,"
                + " switch_transformers) with its config in the 'config' metadata, as the reference files in ../shared/golden,"
                + " or a checkpoint with --config config.json --prefix <module path of the block>";
        HfMoeBlock block;
        Tensor x = null, dy = null, expected = null, expectedGrad = null;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            try {
                if (o.prefix != null) {
                    HfMoeConfig config = o.config != null ? HfMoeConfig.read(o.config) : HfMoeLoader.configOf(f);
                    block = HfMoeLoader.load(f, config, o.prefix, o.prefix, DType.F32);
                } else {
                    block = HfMoeLoader.load(f, HfMoeLoader.configOf(f), "param.", "buffer.", DType.F32);
                }
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + " holds no MoE block this loader reads: " + e.getMessage() + "\n" + accepted);
            }
            int d = block.config().hiddenSize();
            if (f.contains("input") && !o.tokensGiven) {
                x = f.tensor("input").to(DType.F32);
                if (x.size(-1) != d) throw new IllegalArgumentException(file + ": 'input' " + Fmt.shape(x.shape()) + " does not end in d = " + d);
                if (f.contains("grad_output") && Arrays.equals(f.info("grad_output").shape(), x.shape())) dy = f.tensor("grad_output").to(DType.F32);
                if (f.contains("output") && Arrays.equals(f.info("output").shape(), x.shape())) expected = f.tensor("output").to(DType.F32);
                if (dy != null && f.contains("grad_input") && Arrays.equals(f.info("grad_input").shape(), x.shape())) {
                    expectedGrad = f.tensor("grad_input").to(DType.F32);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage() + "\n" + accepted);
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().contains("accepted: ")) throw e;
            throw new IllegalArgumentException(file + " is not a safetensors file with an MoE block: " + e.getMessage() + "\n" + accepted);
        }
        HfMoeConfig c = block.config();
        Generator g = new Generator(o.seed + 1000);
        boolean fromFile = x != null, dyFromFile = dy != null;
        if (x == null) x = Tensor.randn(g, DType.F32, o.tokens, c.hiddenSize());
        if (dy == null) dy = Tensor.randn(g, DType.F32, x.shape());
        int T = x.numel() / c.hiddenSize();
        long[] ids = new long[T];
        for (int t = 0; t < T; t++) ids[t] = g.nextInt(1000);
        String title = "walkthrough: " + c.family().blockClass() + " from " + file + ": E = " + c.numExperts() + ", k = " + c.topK() + ", d = "
                + c.hiddenSize() + ", f = " + c.intermediateSize() + (c.sharedIntermediateSize() > 0 ? ", shared f = " + c.sharedIntermediateSize() : "")
                + "\nbatch " + (fromFile ? "'input' of the file " : "x ~ N(0, 1) ") + Fmt.shape(x.shape()) + "; upstream gradient "
                + (dyFromFile ? "'grad_output' of the file" : "dy ~ N(0, 1)");
        return new Setup(title, block.layer(), x, ids, dy, expected, expectedGrad);
    }

    /** A warning when the router logits or the output hold infinities or NaNs, or null. */
    private static String nonFiniteWarning(StagedPass pass) {
        double maxLogit = 0;
        boolean bad = false;
        if (pass.routing().logits() != null) {
            for (double v : pass.routing().logits().toDoubleArray()) {
                if (!Double.isFinite(v)) bad = true;
                else maxLogit = Math.max(maxLogit, Math.abs(v));
            }
        }
        for (double v : pass.output().toDoubleArray()) bad |= !Double.isFinite(v);
        if (!bad) return null;
        return "warning: the layer produces infinities or NaNs on this batch (largest finite |router logit| " + Fmt.num(maxLogit)
                + "); float32 overflows past 3.4e38: check the weights (uninitialised memory?) and the input";
    }

    private static double relativeError(Tensor got, Tensor want) {
        double[] g = got.toDoubleArray(), w = want.toDoubleArray();
        double num = 0, den = 0;
        for (int i = 0; i < g.length; i++) {
            num += (g[i] - w[i]) * (g[i] - w[i]);
            den += w[i] * w[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }
}
