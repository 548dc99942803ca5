package dev.moe4j.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** The caching allocator's bookkeeping over a fake device memory. */
class CachingAllocatorTest {

    /** Hands out increasing ids as blocks, with a byte budget; counts frees. */
    static final class FakeMemory implements CachingAllocator.RawMemory<Long> {
        long budget, used, next = 1;
        final Set<Long> live = new HashSet<>();
        final List<Long> freed = new ArrayList<>();
        final java.util.Map<Long, Long> sizes = new java.util.HashMap<>();

        FakeMemory(long budget) { this.budget = budget; }

        @Override
        public Long allocate(long bytes) {
            if (used + bytes > budget) throw new CachingAllocator.OutOfMemory("fake: out of memory", null);
            used += bytes;
            long id = next++;
            live.add(id);
            sizes.put(id, bytes);
            return id;
        }

        @Override
        public void free(Long block) {
            assertThat(live.remove(block)).as("double free of " + block).isTrue();
            used -= sizes.get(block);
            freed.add(block);
        }
    }

    @Test
    void sizeClassesRoundSmallAndLargeRequests() {
        assertThat(CachingAllocator.sizeClass(0)).isEqualTo(512);
        assertThat(CachingAllocator.sizeClass(1)).isEqualTo(512);
        assertThat(CachingAllocator.sizeClass(512)).isEqualTo(512);
        assertThat(CachingAllocator.sizeClass(513)).isEqualTo(1024);
        assertThat(CachingAllocator.sizeClass((1 << 20) - 1)).isEqualTo(1 << 20);
        assertThat(CachingAllocator.sizeClass(1 << 20)).isEqualTo(2 << 20);
        assertThat(CachingAllocator.sizeClass((2 << 20) + 1)).isEqualTo(4 << 20);
        assertThatThrownBy(() -> CachingAllocator.sizeClass(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
    }

    @Test
    void releasedBlocksAreReusedByTheSameSizeClass() {
        FakeMemory mem = new FakeMemory(1L << 30);
        CachingAllocator<Long> a = new CachingAllocator<>(mem);
        var b1 = a.allocate(1000);
        var b2 = a.allocate(3000);
        assertThat(a.rawAllocations()).isEqualTo(2);
        assertThat(a.bytesInUse()).isEqualTo(1024 + 3072);
        a.release(b1);
        assertThat(a.bytesCached()).isEqualTo(1024);
        var b3 = a.allocate(900);                       // same class as 1000
        assertThat(b3.handle()).isEqualTo(b1.handle());
        assertThat(a.rawAllocations()).isEqualTo(2);
        var b4 = a.allocate(2000);                       // another class: a new block
        assertThat(b4.handle()).isNotIn(b1.handle(), b2.handle());
        assertThat(a.rawAllocations()).isEqualTo(3);
        assertThat(mem.freed).isEmpty();
    }

    @Test
    void outOfMemoryEmptiesTheCacheAndRetries() {
        FakeMemory mem = new FakeMemory(4096);
        CachingAllocator<Long> a = new CachingAllocator<>(mem);
        var b1 = a.allocate(2048);
        var b2 = a.allocate(2048);
        a.release(b1);
        a.release(b2);
        assertThat(a.bytesCached()).isEqualTo(4096);
        var big = a.allocate(4000);                      // class 4096: fits only after the cache is emptied
        assertThat(mem.freed).containsExactlyInAnyOrder(b1.handle(), b2.handle());
        assertThat(a.bytesCached()).isZero();
        assertThat(a.bytesInUse()).isEqualTo(4096);
        assertThat(big.size()).isEqualTo(4096);
        assertThatThrownBy(() -> a.allocate(1)).isInstanceOf(CachingAllocator.OutOfMemory.class);
    }

    @Test
    void emptyCacheFreesEveryCachedBlockOnce() {
        FakeMemory mem = new FakeMemory(1L << 30);
        CachingAllocator<Long> a = new CachingAllocator<>(mem);
        List<CachingAllocator.Block<Long>> blocks = new ArrayList<>();
        for (int i = 0; i < 10; i++) blocks.add(a.allocate(100L * (i + 1) * 1000));
        blocks.forEach(a::release);
        a.emptyCache();
        assertThat(mem.freed).hasSize(10);
        assertThat(mem.live).isEmpty();
        a.emptyCache();
        assertThat(mem.freed).hasSize(10);
    }
}
