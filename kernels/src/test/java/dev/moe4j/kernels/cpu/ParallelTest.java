package dev.moe4j.kernels.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Parallel}: every task runs once, errors come back, nesting runs inline, thread count is settable. */
class ParallelTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() { Parallel.setThreads(savedThreads); }

    @Test
    void everyTaskRunsExactlyOnce() {
        for (int threads : new int[] {1, 2, 3}) {
            Parallel.setThreads(threads);
            AtomicIntegerArray runs = new AtomicIntegerArray(1000);
            Parallel.forEach(1000, runs::incrementAndGet);
            for (int i = 0; i < 1000; i++) assertThat(runs.get(i)).as("task %d with %d threads", i, threads).isEqualTo(1);
        }
    }

    @Test
    void twoThreadsUseTwoThreads() {
        Parallel.setThreads(2);
        Set<Thread> seen = ConcurrentHashMap.newKeySet();
        Parallel.forEach(64, i -> {
            seen.add(Thread.currentThread());
            long until = System.nanoTime() + 2_000_000;
            while (System.nanoTime() < until) Thread.onSpinWait();
        });
        assertThat(seen).hasSize(2);
    }

    @Test
    void nestedForEachRunsOnTheCallingThread() {
        Parallel.setThreads(2);
        AtomicIntegerArray sameThread = new AtomicIntegerArray(8);
        Parallel.forEach(8, i -> {
            Thread outer = Thread.currentThread();
            Parallel.forEach(4, j -> { if (Thread.currentThread() == outer) sameThread.incrementAndGet(i); });
        });
        for (int i = 0; i < 8; i++) assertThat(sameThread.get(i)).isEqualTo(4);
    }

    @Test
    void exceptionsPropagate() {
        Parallel.setThreads(2);
        assertThatThrownBy(() -> Parallel.forEach(10, i -> { if (i == 7) throw new IllegalStateException("task 7"); }))
                .isInstanceOf(IllegalStateException.class).hasMessage("task 7");
        // the pool still works afterwards
        AtomicIntegerArray runs = new AtomicIntegerArray(5);
        Parallel.forEach(5, runs::incrementAndGet);
        assertThat(runs.get(4)).isEqualTo(1);
    }

    @Test
    void badCountsAreRejected() {
        assertThatThrownBy(() -> Parallel.setThreads(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0");
        assertThatThrownBy(() -> Parallel.forEach(-1, i -> { })).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        Parallel.setThreads(1);
        assertThat(Parallel.threads()).isEqualTo(1);
    }
}
