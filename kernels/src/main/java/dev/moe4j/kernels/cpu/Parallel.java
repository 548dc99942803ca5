package dev.moe4j.kernels.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * The thread pool the CPU kernels split their work over.
 *
 * <p>Size: the system property {@value #THREADS_PROPERTY} when set (read once, at first use),
 * otherwise {@link Runtime#availableProcessors()}; {@link #setThreads(int)} changes it at run time
 * and {@code 1} makes every kernel run on the calling thread alone.
 *
 * <p>{@link #forEach(int, IntConsumer)} runs tasks {@code 0 .. tasks-1}: the calling thread and
 * {@code threads - 1} pool workers take task numbers from one shared counter until none is left
 * (dynamic scheduling, so a core slowed down by other programs simply takes fewer tasks). A
 * {@code forEach} started from inside a task runs sequentially on that thread, so kernels can call
 * each other without oversubscribing the cores or deadlocking the pool.
 */
public final class Parallel {
    /** System property holding the initial thread count, e.g. {@code -Dmoe4j.threads=1}. */
    public static final String THREADS_PROPERTY = "moe4j.threads";

    private static int threads = initialThreads();
    private static ExecutorService pool;

    /** True on a thread that is currently running a task of some {@code forEach}. */
    private static final ThreadLocal<Boolean> IN_TASK = ThreadLocal.withInitial(() -> Boolean.FALSE);

    private Parallel() {}

    private static int initialThreads() {
        String p = System.getProperty(THREADS_PROPERTY);
        if (p != null && !p.isBlank()) {
            try {
                int n = Integer.parseInt(p.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the default
            }
            throw new IllegalArgumentException("system property " + THREADS_PROPERTY + " must be an integer >= 1, got '" + p + "'");
        }
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** Number of threads (the caller included) that kernels use. */
    public static synchronized int threads() { return threads; }

    /**
     * Sets the number of threads the kernels use ({@code 1}: the calling thread only). Takes effect
     * for the next {@code forEach}; workers of a smaller pool are started on demand.
     *
     * @throws IllegalArgumentException when {@code n < 1}
     */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("thread count must be >= 1, got " + n);
        if (n == threads) return;
        threads = n;
        if (pool != null) {
            pool.shutdown();        // running tasks finish; idle workers exit
            pool = null;
        }
    }

    private static synchronized ExecutorService pool() {
        if (pool == null) {
            AtomicInteger id = new AtomicInteger();
            pool = Executors.newFixedThreadPool(threads - 1, r -> {
                Thread t = new Thread(r, "moe4j-kernel-" + id.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }
        return pool;
    }

    /**
     * Runs {@code body.accept(i)} for every {@code i} in {@code [0, tasks)}, spread over the pool,
     * and returns when all have finished. Tasks must be independent (they may run in any order and
     * concurrently). An exception thrown by a task is rethrown here after the other tasks have
     * stopped (tasks not yet started are skipped).
     *
     * @throws IllegalArgumentException when {@code tasks < 0}
     */
    public static void forEach(int tasks, IntConsumer body) {
        if (tasks < 0) throw new IllegalArgumentException("task count must be >= 0, got " + tasks);
        if (tasks == 0) return;
        int n;
        ExecutorService exec;
        synchronized (Parallel.class) {
            n = Math.min(threads, tasks);
            exec = n > 1 && !IN_TASK.get() ? pool() : null;
        }
        if (exec == null) {
            runInline(tasks, body);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> error = new AtomicReference<>();
        int helpers = n - 1;
        CountDownLatch done = new CountDownLatch(helpers);
        Runnable worker = () -> {
            try {
                drain(tasks, body, next, error);
            } finally {
                done.countDown();
            }
        };
        for (int h = 0; h < helpers; h++) {
            try {
                exec.execute(worker);
            } catch (RejectedExecutionException e) {
                done.countDown();         // the pool was resized meanwhile: the caller takes that share
            }
        }
        drain(tasks, body, next, error);
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;       // the helpers still write into the caller's arrays: wait for them
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        Throwable t = error.get();
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error e) throw e;
        if (t != null) throw new IllegalStateException(t);
    }

    private static void runInline(int tasks, IntConsumer body) {
        boolean outer = !IN_TASK.get();
        if (outer) IN_TASK.set(Boolean.TRUE);
        try {
            for (int i = 0; i < tasks; i++) body.accept(i);
        } finally {
            if (outer) IN_TASK.set(Boolean.FALSE);
        }
    }

    private static void drain(int tasks, IntConsumer body, AtomicInteger next, AtomicReference<Throwable> error) {
        IN_TASK.set(Boolean.TRUE);
        try {
            int i;
            while (error.get() == null && (i = next.getAndIncrement()) < tasks) body.accept(i);
        } catch (Throwable t) {
            error.compareAndSet(null, t);
        } finally {
            IN_TASK.set(Boolean.FALSE);
        }
    }
}
