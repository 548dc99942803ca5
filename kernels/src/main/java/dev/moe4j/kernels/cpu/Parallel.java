package dev.moe4j.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * The thread pool the CPU kernels split their work over.
 *
 * <p>Size: the system property {@value #THREADS_PROPERTY} when set (read once, at first use),
 * otherwise {@link Runtime#availableProcessors()}; {@link #setThreads(int)} changes it at run time
 * and {@code 1} makes every kernel run on the calling thread alone.
 *
 * <p>{@link #forEach(int, IntConsumer)} runs tasks {@code 0 .. tasks-1}: the calling thread and
 * the {@code threads - 1} pool workers take task numbers from one shared counter until none is
 * left (dynamic scheduling, so a core slowed down by other programs simply takes fewer tasks). A
 * {@code forEach} started from inside a task, or while another thread is using the pool, runs
 * sequentially on its calling thread, so kernels can call each other without oversubscribing the
 * cores or deadlocking.
 *
 * <h2>Waiting by spinning</h2>
 * A kernel such as the shared-B SGEMM calls {@code forEach} several times per product, each call a
 * barrier. Parking a thread and waking it again costs a trip through the OS scheduler, which on a
 * busy machine can take milliseconds, every time. So, as BLAS and OpenMP runtimes do, an idle
 * worker first spins (checking for new work with {@link Thread#onSpinWait()}) for
 * {@value #SPIN_NANOS} ns before it parks, and the caller spins while it waits for the workers to
 * finish their last tasks. Back-to-back calls thus find the workers awake; an idle pool costs no
 * CPU after those 2 ms.
 */
public final class Parallel {
    /** System property holding the initial thread count, e.g. {@code -Dmoe4j.threads=1}. */
    public static final String THREADS_PROPERTY = "moe4j.threads";

    /** How long an idle worker spins before it parks, in nanoseconds. */
    static final long SPIN_NANOS = 2_000_000;

    private static int threads = initialThreads();
    private static Pool pool;

    /** True on a thread that is currently running a task of some {@code forEach} (and on pool workers). */
    private static final ThreadLocal<Boolean> IN_TASK = ThreadLocal.withInitial(() -> Boolean.FALSE);

    private Parallel() {}

    private static int initialThreads() {
        String p = System.getProperty(THREADS_PROPERTY);
        if (p != null && !p.isBlank()) {
            try {
                int n = Integer.parseInt(p.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw new IllegalArgumentException("system property " + THREADS_PROPERTY + " must be an integer >= 1, got '" + p + "'");
        }
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** Number of threads (the caller included) that kernels use. */
    public static synchronized int threads() { return threads; }

    /**
     * Sets the number of threads the kernels use ({@code 1}: the calling thread only). Takes effect
     * for the next {@code forEach}; the workers of the old pool finish what they run and exit.
     *
     * @throws IllegalArgumentException when {@code n < 1}
     */
    public static void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("thread count must be >= 1, got " + n);
        Pool old;
        synchronized (Parallel.class) {
            if (n == threads) return;
            threads = n;
            old = pool;
            pool = null;
        }
        if (old != null) old.shutdown();
    }

    private static synchronized Pool pool() {
        if (pool == null) pool = new Pool(threads - 1);
        return pool;
    }

    /**
     * Runs {@code body.accept(i)} for every {@code i} in {@code [0, tasks)}, spread over the pool,
     * and returns when all have finished. Tasks must be independent (they may run in any order and
     * concurrently). An exception thrown by a task is rethrown here after the running tasks have
     * finished (tasks not yet started are skipped).
     *
     * @throws IllegalArgumentException when {@code tasks < 0}
     */
    public static void forEach(int tasks, IntConsumer body) {
        if (tasks < 0) throw new IllegalArgumentException("task count must be >= 0, got " + tasks);
        if (tasks == 0) return;
        Pool p = tasks > 1 && !IN_TASK.get() ? sharedPool() : null;
        if (p == null || !p.lock.tryLock()) {
            runInline(tasks, body);
            return;
        }
        Job job;
        try {
            job = p.start(tasks, body);
            IN_TASK.set(Boolean.TRUE);
            try {
                job.drain();
            } finally {
                IN_TASK.set(Boolean.FALSE);
            }
            job.close();
        } finally {
            p.lock.unlock();
        }
        Throwable t = job.error.get();
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error e) throw e;
        if (t != null) throw new IllegalStateException(t);
    }

    private static synchronized Pool sharedPool() { return threads > 1 ? pool() : null; }

    private static void runInline(int tasks, IntConsumer body) {
        boolean outer = !IN_TASK.get();
        if (outer) IN_TASK.set(Boolean.TRUE);
        try {
            for (int i = 0; i < tasks; i++) body.accept(i);
        } finally {
            if (outer) IN_TASK.set(Boolean.FALSE);
        }
    }

    // ------------------------------------------------------------------ the pool

    /** One {@code forEach} call: its tasks, the shared counter, and who is still working on it. */
    private static final class Job {
        final int tasks;
        final IntConsumer body;
        final AtomicInteger next = new AtomicInteger();
        /** Workers inside {@link #join()}; the caller waits for this to drop to zero. */
        final AtomicInteger active = new AtomicInteger();
        final AtomicReference<Throwable> error = new AtomicReference<>();
        volatile boolean closed;

        Job(int tasks, IntConsumer body) {
            this.tasks = tasks;
            this.body = body;
        }

        /** Takes and runs tasks until none is left (or one failed). */
        void drain() {
            try {
                int i;
                while (error.get() == null && (i = next.getAndIncrement()) < tasks) body.accept(i);
            } catch (Throwable t) {
                error.compareAndSet(null, t);
            }
        }

        /** A worker's part: registers first, so that the caller cannot miss a worker running a task. */
        void join() {
            active.incrementAndGet();
            try {
                if (!closed) drain();
            } finally {
                active.decrementAndGet();
            }
        }

        /** The caller's end: all tasks are taken; wait for the workers still running one. */
        void close() {
            closed = true;
            long start = System.nanoTime();
            while (active.get() != 0) {
                if (System.nanoTime() - start < SPIN_NANOS) Thread.onSpinWait();
                else Thread.yield();
            }
        }
    }

    /** {@code size} daemon workers that spin, then park, between jobs. */
    private static final class Pool {
        final ReentrantLock lock = new ReentrantLock();
        final Thread[] workers;
        volatile Job job;
        volatile long generation;
        volatile boolean shutdown;

        Pool(int size) {
            workers = new Thread[size];
            for (int w = 0; w < size; w++) {
                Thread t = new Thread(this::work, "moe4j-kernel-" + (w + 1));
                t.setDaemon(true);
                workers[w] = t;
                t.start();
            }
        }

        /** Publishes a job (the caller holds {@link #lock}) and wakes parked workers. */
        Job start(int tasks, IntConsumer body) {
            Job j = new Job(tasks, body);
            job = j;
            generation = generation + 1;
            for (Thread t : workers) LockSupport.unpark(t);
            return j;
        }

        void shutdown() {
            shutdown = true;
            for (Thread t : workers) LockSupport.unpark(t);
        }

        private void work() {
            IN_TASK.set(Boolean.TRUE);
            long seen = 0;
            while (true) {
                long spinStart = System.nanoTime();
                long g;
                while ((g = generation) == seen) {
                    if (shutdown) return;
                    if (System.nanoTime() - spinStart < SPIN_NANOS) Thread.onSpinWait();
                    else LockSupport.park(this);      // unpark comes with the next job or the shutdown
                }
                seen = g;
                job.join();
            }
        }
    }
}
