package dev.moe4j.lora;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.GradCheck;
import dev.moe4j.autograd.nn.Linear;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.moe4j.lora.Checks.close;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SegmentedLoraTest {

    /** Adapters with the given ranks: A_i [r_i, in], B_i [out, r_i], random (B not zero). */
    private record Adapters(List<Tensor> a, List<Tensor> b, double[] s) {
        static Adapters random(long seed, DType dtype, int in, int out, int... ranks) {
            Generator g = new Generator(seed);
            List<Tensor> a = new ArrayList<>(), b = new ArrayList<>();
            double[] s = new double[ranks.length];
            for (int i = 0; i < ranks.length; i++) {
                a.add(Tensor.randn(g, dtype, ranks[i], in).setRequiresGrad(true));
                b.add(Tensor.randn(g, dtype, out, ranks[i]).setRequiresGrad(true));
                s[i] = 0.5 + i;
            }
            return new Adapters(a, b, s);
        }
    }

    /** delta[t] = s_i B_i A_i x[t], one token at a time. */
    private static Tensor perToken(Tensor x, int[] ids, Adapters ad) {
        int T = x.size(0), out = ad.b().get(0).size(0);
        Tensor y = Tensor.zeros(x.dtype(), T, out);
        for (int t = 0; t < T; t++) {
            if (ids[t] < 0) continue;
            Tensor xt = x.select(0, t);
            Tensor yt = ad.b().get(ids[t]).matmul(ad.a().get(ids[t]).matmul(xt)).mul(ad.s()[ids[t]]);
            y.select(0, t).copyFrom(yt);
        }
        return y;
    }

    private static int[] randomIds(long seed, int T, int n) {
        Generator g = new Generator(seed);
        int[] ids = new int[T];
        for (int t = 0; t < T; t++) ids[t] = g.nextInt(n + 1) - 1;      // -1 included
        return ids;
    }

    @Test
    void groupedMatchesPerTokenLoopWithMixedRanksEmptyGroupsAndBaseTokens() {
        for (int T : new int[] {0, 1, 7, 33}) {
            Adapters ad = Adapters.random(T, DType.F64, 11, 9, 4, 1, 6, 2, 3);
            int[] ids = randomIds(100 + T, T, 5);
            if (T > 3) ids[0] = ids[1] = ids[2] = 4;                     // adapter 3 may stay empty, 4 is used
            Tensor x = Tensor.randn(new Generator(T + 1), DType.F64, T, 11);
            Tensor grouped = SegmentedLora.delta(x, ids, ad.a(), ad.b(), ad.s());
            Tensor want = perToken(x, ids, ad);
            close(grouped, want, Checks.F64, "grouped vs per-token, T = " + T);
            close(SegmentedLora.deltaLoop(x, ids, ad.a(), ad.b(), ad.s()), want, Checks.F64, "loop vs per-token, T = " + T);
        }
    }

    @Test
    void float32MatchesFloat64() {
        Adapters ad64 = Adapters.random(3, DType.F64, 40, 24, 8, 16, 4);
        List<Tensor> a32 = new ArrayList<>(), b32 = new ArrayList<>();
        for (Tensor t : ad64.a()) a32.add(t.to(DType.F32));
        for (Tensor t : ad64.b()) b32.add(t.to(DType.F32));
        int[] ids = randomIds(5, 57, 3);
        Tensor x = Tensor.randn(new Generator(6), DType.F64, 57, 40);
        Tensor got = SegmentedLora.delta(x.to(DType.F32), ids, a32, b32, ad64.s());
        close(got, perToken(x, ids, ad64), Checks.F32, "float32 grouped");
    }

    @Test
    void gradientsPassGradCheck() {
        Adapters ad = Adapters.random(4, DType.F64, 5, 4, 2, 3, 1);
        int[] ids = {0, 2, -1, 1, 0, 2, 2, 1};
        Tensor x = Tensor.randn(new Generator(9), DType.F64, 8, 5).setRequiresGrad(true);
        List<Tensor> inputs = new ArrayList<>(List.of(x));
        inputs.addAll(ad.a());
        inputs.addAll(ad.b());
        GradCheck.assertGradients(in -> SegmentedLora.delta(in[0], ids, List.of(in[1], in[2], in[3]), List.of(in[4], in[5], in[6]), ad.s()),
                inputs.toArray(new Tensor[0]));
    }

    @Test
    void gradientsOfGroupedAndLoopAgree() {
        Adapters ad = Adapters.random(4, DType.F64, 16, 12, 4, 8, 2, 4);
        int[] ids = randomIds(8, 40, 4);
        Tensor x = Tensor.randn(new Generator(9), DType.F64, 40, 16).setRequiresGrad(true);
        Tensor g = Tensor.randn(new Generator(10), DType.F64, 40, 12);
        Tensor[] wrt = {x, ad.a().get(1), ad.b().get(2), ad.a().get(3)};
        Tensor[] grouped = Autograd.grad(SegmentedLora.delta(x, ids, ad.a(), ad.b(), ad.s()), g, false, wrt);
        Tensor[] loop = Autograd.grad(SegmentedLora.deltaLoop(x, ids, ad.a(), ad.b(), ad.s()), g, false, wrt);
        for (int i = 0; i < wrt.length; i++) close(grouped[i], loop[i], Checks.F64, "gradient " + i);
    }

    @Test
    void planGroupsTokensStablyByAdapter() {
        RoutingPlan p = SegmentedLora.plan(new int[] {2, 0, -1, 2, 0, 1}, 4);
        assertThat(p.offsets()).containsExactly(0, 2, 3, 5, 5);
        assertThat(p.rowToPair()).containsExactly(1, 4, 5, 0, 3);
        assertThat(p.pairToRow()[2]).isEqualTo(-1);
        assertThatThrownBy(() -> SegmentedLora.plan(new int[] {0, 4}, 4)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("token 1");
    }

    // ------------------------------------------------------------------ through LoraLinear and LoraModel

    @Test
    void loraLinearMixedBatchMatchesEachAdapterAlone() {
        Linear lin = new Linear(10, 7, true, DType.F64, new Generator(1));
        LoraLinear l = new LoraLinear(lin, "a", AdapterSpec.of(2, 4).withInit(LoraInit.RANDOM), new Generator(2));
        l.addAdapter("b", AdapterSpec.of(5, 3).withRslora(true).withInit(LoraInit.RANDOM), new Generator(3));
        l.addAdapter("c", AdapterSpec.of(1, 1).withInit(LoraInit.RANDOM), new Generator(4));
        Tensor x = Tensor.randn(new Generator(5), DType.F64, 2, 3, 10);
        String[] names = {"b", null, "a", "c", "b", "a"};
        l.setTokenAdapters(names);
        Tensor mixed = l.forward(x);
        l.setTokenAdapters((String[]) null);
        Tensor flat = x.reshape(6, 10);
        for (int t = 0; t < 6; t++) {
            Tensor xt = flat.narrow(0, t, 1);
            Tensor want;
            if (names[t] == null) {
                want = lin.forwardBase(xt);
            } else {
                l.setActiveAdapters(names[t]);
                want = l.forward(xt);
            }
            close(mixed.reshape(6, 7).narrow(0, t, 1), want, Checks.F64, "token " + t);
        }
        assertThatThrownBy(() -> l.setTokenAdapters("a", "zz")).hasMessageContaining("'zz'");
        l.setTokenAdapters("a", "b");
        assertThatThrownBy(() -> l.forward(x)).hasMessageContaining("6 tokens, 2 adapter ids");
        l.addAdapter("d", AdapterSpec.of(2, 2).withDora(true), new Generator(6));
        assertThatThrownBy(() -> l.setTokenAdapters("a", "d")).hasMessageContaining("DoRA adapter 'd'");
    }

    @Test
    void loraModelMixedBatchRoutesEveryLayer() {
        ToyModel m = new ToyModel(2, 12, 20, 9, DType.F64, 42);
        LoraConfig c = LoraConfig.builder().r(3).alpha(6).init(LoraInit.RANDOM).targetModules("q_proj", "v_proj").build();
        LoraModel lm = LoraModel.attach(m, c, new Generator(1));
        lm.addAdapter("other", LoraConfig.builder().r(2).alpha(2).init(LoraInit.RANDOM).targetModules("q_proj", "mlp.0").build(), new Generator(2));
        Tensor x = Tensor.randn(new Generator(5), DType.F64, 5, 12);
        String[] names = {"other", "default", null, "other", "default"};
        lm.setTokenAdapters(names);
        Tensor mixed = m.forward(x);
        lm.setTokenAdapters((String[]) null);
        for (int t = 0; t < 5; t++) {
            if (names[t] == null) lm.setAdaptersEnabled(false);
            else lm.setActiveAdapters(names[t]);
            close(mixed.narrow(0, t, 1), m.forward(x.narrow(0, t, 1)), Checks.F64, "token " + t);
            lm.setAdaptersEnabled(true);
        }
        assertThatThrownBy(() -> lm.setTokenAdapters("nope")).hasMessageContaining("'nope'");
    }
}
