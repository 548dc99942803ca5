package dev.moe4j.tensor.cuda;

import static dev.moe4j.tensor.cuda.CudaReductionsTest.GPU;
import static dev.moe4j.tensor.cuda.CudaReductionsTest.assertClose;
import static dev.moe4j.tensor.cuda.CudaReductionsTest.assertExact;
import static dev.moe4j.tensor.cuda.CudaReductionsTest.both;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.kernels.cuda.KernelBuild;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.TopK;

import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Gathers, scatter-adds, top-k, argsort, cumsum, cat / stack and bincount of device tensors against the
 * CPU: data movement, scatter-adds (float sums in the CPU's order) and selections must be exact;
 * cumsum (double accumulation on both sides, another association on the device) agrees to 1e-6.
 * Repeated indices, out-of-range indices (the CPU's message), empty shapes, views, I32 and I64 indices.
 */
@Tag("gpu")
class CudaIndexingTest {
    @BeforeEach
    void needsAGpu() {
        Assumptions.assumeTrue(CudaProbe.available(), () -> "no CUDA device: " + CudaProbe.reason());
        Assumptions.assumeTrue(KernelBuild.available(), () -> "CUDA kernels not built: " + KernelBuild.reason());
    }

    static Tensor randn(long seed, DType dt, int... shape) { return Tensor.randn(new Generator(seed), DType.F32, shape).to(dt); }

    static Tensor indices(Random rnd, int bound, DType dt, int... shape) {
        long[] v = new long[(int) Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = rnd.nextInt(Math.max(bound, 1));
        return Tensor.of(v, shape).to(dt);
    }

    /** The op on the CPU and the device (all tensor arguments moved); both must throw the same type and message. */
    static void sameError(java.util.function.Function<Boolean, Tensor> op) {
        Throwable cpu = null, dev = null;
        try { op.apply(false); } catch (RuntimeException e) { cpu = e; }
        try { op.apply(true); } catch (RuntimeException e) { dev = e; }
        assertThat(cpu).isNotNull();
        assertThat(dev).isNotNull().isInstanceOf(cpu.getClass()).hasMessage(cpu.getMessage());
    }

    static Tensor on(Tensor t, boolean gpu) { return gpu ? t.to(GPU) : t; }

    @Test
    void indexSelectAndGatherMoveEveryDtypeExactly() {
        Random rnd = new Random(1);
        int[][] shapes = {{7}, {5, 33}, {3, 4, 5}, {0, 3}, {2, 1, 9}};
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.I64, DType.I32, DType.BOOL, DType.F64}) {
            for (int[] shape : shapes) {
                Tensor x = randn(rnd.nextLong(), DType.F32, shape).mul(5).to(dt);
                for (int d = 0; d < shape.length; d++) {
                    final int dim = d;
                    for (DType it : new DType[] {DType.I64, DType.I32}) {
                        for (int m : new int[] {0, 1, 6, 40}) {
                            Tensor idx = indices(rnd, shape[d], it, shape[d] == 0 ? 0 : m);
                            Tensor[] r = both(x, t -> t.indexSelect(dim, t.device().isCpu() ? idx : idx.to(GPU)));
                            assertExact(dt + " indexSelect " + Shape.str(shape) + " dim " + d + " m " + m, r[0], r[1]);
                        }
                        int[] ishape = shape.clone();
                        for (int k = 0; k < ishape.length; k++) if (k != d) ishape[k] = Math.max(0, ishape[k] - k % 2);
                        ishape[d] = shape[d] == 0 ? 0 : 3;
                        Tensor gi = indices(rnd, shape[d], it, ishape);
                        Tensor[] g = both(x, t -> t.gather(dim, t.device().isCpu() ? gi : gi.to(GPU)));
                        assertExact(dt + " gather " + Shape.str(shape) + " index " + Shape.str(ishape) + " dim " + d, g[0], g[1]);
                    }
                }
            }
        }
        Tensor view = randn(3, DType.F32, 6, 8).mT();                      // [8, 6], non-contiguous
        Tensor idx = Tensor.of(new long[] {5, 0, 5, 2}, 4);
        Tensor[] r = both(view, t -> t.indexSelect(1, t.device().isCpu() ? idx : idx.to(GPU)));
        assertExact("indexSelect of a view", r[0], r[1]);
        Tensor scalar = Tensor.scalar(DType.F32, 4);
        Tensor zero = Tensor.of(new long[] {0}, 1);
        Tensor[] s = both(scalar, t -> t.indexSelect(0, t.device().isCpu() ? zero : zero.to(GPU)));
        assertExact("0-dim indexSelect", s[0], s[1]);
    }

    @Test
    void scatterAddAndIndexAddSumRepeatsInTheCpuOrderBitForBit() {
        Random rnd = new Random(2);
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (int[] shape : new int[][] {{9}, {6, 7}, {4, 5, 3}, {3, 0}}) {
                Tensor a = randn(rnd.nextLong(), dt, shape);
                for (int d = 0; d < shape.length; d++) {
                    final int dim = d;
                    int[] ishape = shape.clone();
                    ishape[d] = shape[d] * 3 + 1;                          // many repeats per target
                    for (int k = 0; k < ishape.length; k++) if (k != d && ishape[k] > 1) ishape[k]--;   // smaller than a outside dim
                    int[] sshape = ishape.clone();
                    sshape[sshape.length - 1] += 2;                        // src larger than index
                    Tensor idx = indices(rnd, shape[d], DType.I64, shape[d] == 0 ? new int[] {0} : ishape);
                    if (shape[d] == 0) continue;
                    Tensor src = randn(rnd.nextLong(), dt, sshape).mul(100);
                    Tensor[] r = both(a, t -> t.scatterAdd(dim, on(idx, !t.device().isCpu()), on(src, !t.device().isCpu())));
                    assertExact(dt + " scatterAdd " + Shape.str(shape) + " dim " + d, r[0], r[1]);
                    Tensor again = a.to(GPU).scatterAdd(dim, idx.to(GPU), src.to(GPU)).cpu();
                    assertExact("scatterAdd run to run", r[1], again);

                    int m = shape[d] * 4 + 3;
                    Tensor rows = indices(rnd, shape[d], DType.I32, m);
                    int[] srcShape = shape.clone();
                    srcShape[d] = m;
                    Tensor addend = randn(rnd.nextLong(), dt, srcShape).mul(100);
                    Tensor[] ia = both(a, t -> t.indexAdd(dim, on(rows, !t.device().isCpu()), on(addend, !t.device().isCpu())));
                    assertExact(dt + " indexAdd " + Shape.str(shape) + " dim " + d, ia[0], ia[1]);
                }
            }
        }
        Tensor a = randn(5, DType.F32, 4, 6).mT();                          // a non-contiguous target
        Tensor idx = Tensor.of(new long[] {3, 3, 0, 3, 3}, 5);
        Tensor src = randn(6, DType.F32, 6, 5);
        Tensor[] r = both(a, t -> t.indexAdd(1, on(idx, !t.device().isCpu()), on(src, !t.device().isCpu())));
        assertExact("indexAdd into a view", r[0], r[1]);
    }

    @Test
    void outOfRangeIndicesThrowTheCpuError() {
        Tensor a = randn(7, DType.F32, 4, 5);
        Tensor bad = Tensor.of(new long[] {1, 5, 0}, 3), neg = Tensor.of(new int[] {0, -1, 2}, 3);
        sameError(g -> on(a, g).indexSelect(1, on(bad, g)));
        sameError(g -> on(a, g).indexSelect(0, on(neg, g)));
        Tensor gi = Tensor.of(new long[] {0, 1, 2, 3, 9, 0}, 2, 3);
        sameError(g -> on(a, g).gather(1, on(gi, g)));
        sameError(g -> on(a, g).scatterAdd(1, on(gi, g), on(Tensor.ones(2, 3), g)));
        sameError(g -> on(a, g).indexAdd(1, on(bad, g), on(Tensor.ones(4, 3), g)));
        assertThatThrownBy(() -> a.to(GPU).indexSelect(1, bad)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cuda");
        assertThatThrownBy(() -> a.to(GPU).scatterAdd(1, gi.to(GPU), Tensor.ones(2, 3))).isInstanceOf(IllegalArgumentException.class);
        Tensor i64 = Tensor.arange(6).view(2, 3);
        assertThatThrownBy(() -> i64.to(GPU).scatterAdd(1, gi.to(GPU), i64.to(GPU))).isInstanceOf(RuntimeException.class);
    }

    @Test
    void topkAndArgsortOrderTiesAndNanAsTheCpu() {
        Random rnd = new Random(3);
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (int[] shape : new int[][] {{9}, {5, 64}, {3, 300, 2}, {4, 0}}) {
                Tensor x = randn(rnd.nextLong(), DType.F32, shape).mul(2).to(DType.BF16).to(dt);   // bf16-rounded: many ties
                for (int d = 0; d < shape.length; d++) {
                    final int dim = d;
                    int n = shape[d];
                    for (int k : new int[] {0, Math.min(1, n), Math.min(3, n), n}) {
                        for (boolean largest : new boolean[] {true, false}) {
                            TopK want = x.topk(k, dim, largest);
                            TopK got = x.to(GPU).topk(k, dim, largest);
                            String at = dt + " topk " + Shape.str(shape) + " dim " + d + " k " + k + " largest " + largest;
                            assertExact(at + " values", want.values(), got.values().cpu());
                            assertExact(at + " indices", want.indices(), got.indices().cpu());
                        }
                    }
                    for (boolean desc : new boolean[] {false, true}) {
                        Tensor[] s = both(x, t -> t.argsort(dim, desc));
                        assertExact(dt + " argsort " + Shape.str(shape) + " dim " + d + " desc " + desc, s[0], s[1]);
                    }
                }
            }
        }
        Tensor special = Tensor.of(new float[] {2, Float.NaN, -0f, 0f, 2, Float.NEGATIVE_INFINITY, Float.NaN, 1}, 8);
        for (boolean flag : new boolean[] {false, true}) {
            assertExact("argsort with NaN", special.argsort(0, flag), special.to(GPU).argsort(0, flag).cpu());
            assertExact("topk with NaN", special.topk(5, 0, flag).indices(), special.to(GPU).topk(5, 0, flag).indices().cpu());
        }
        assertThatThrownBy(() -> special.to(GPU).topk(9, 0, true)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void cumsumMatchesTheCpuOnRowsAndColumns() {
        Random rnd = new Random(4);
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (int[] shape : new int[][] {{1}, {5000}, {7, 33}, {3, 4, 5}, {0, 4}, {6, 0}}) {
                Tensor x = randn(rnd.nextLong(), dt, shape);
                for (int d = 0; d < shape.length; d++) {
                    final int dim = d;
                    Tensor[] c = both(x, t -> t.cumsum(dim));
                    assertClose(dt + " cumsum " + Shape.str(shape) + " dim " + d, c[0], c[1], dt == DType.BF16 ? 1e-2 : 1e-6, null);
                }
            }
        }
        Tensor view = randn(9, DType.F32, 5, 7).mT();
        Tensor[] c = both(view, t -> t.cumsum(1));
        assertClose("cumsum of a view", c[0], c[1], 1e-6, null);
    }

    @Test
    void catStackAndBincountOnTheDevice() {
        Tensor a = randn(1, DType.F32, 3, 4), b = randn(2, DType.F32, 3, 2), e = Tensor.zeros(0);
        for (int d : new int[] {1, -1}) {
            Tensor want = Tensor.cat(List.of(a, e, b), d);
            Tensor got = Tensor.cat(List.of(a.to(GPU), e.to(GPU), b.to(GPU)), d);
            assertEquals(GPU, got.device());
            assertExact("cat dim " + d, want, got.cpu());
        }
        Tensor rows = Tensor.cat(List.of(a.mT(), b.mT()), 0);
        assertExact("cat of views dim 0", rows, Tensor.cat(List.of(a.to(GPU).mT(), b.to(GPU).mT()), 0).cpu());
        Tensor i1 = Tensor.arange(5), i2 = Tensor.arange(5).mul(3);
        for (int d = 0; d <= 1; d++) {
            assertExact("stack I64 dim " + d, Tensor.stack(List.of(i1, i2), d), Tensor.stack(List.of(i1.to(GPU), i2.to(GPU)), d).cpu());
        }
        assertEquals(GPU, Tensor.cat(List.of(e.to(GPU)), 0).device());
        assertThatThrownBy(() -> Tensor.cat(List.of(a.to(GPU), b), 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cuda");
        Tensor counts = Tensor.of(new long[] {3, 0, 3, 1, 7}, 5);
        Tensor got = counts.to(GPU).bincount(2);
        assertEquals(GPU, got.device());
        assertArrayEquals(counts.bincount(2).toLongArray(), got.cpu().toLongArray());
    }
}
