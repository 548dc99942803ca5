package dev.moe4j.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The probe on any machine: a definite answer, a reason when CUDA is unavailable, cached. */
class CudaProbeTest {

    @Test
    void answersWithAReasonOrDevices() {
        CudaProbe.Status s = CudaProbe.status();
        if (s.available()) {
            assertThat(s.deviceCount()).isPositive();
            assertThat(s.devices()).hasSize(s.deviceCount());
            assertThat(s.reason()).isEmpty();
        } else {
            assertThat(s.deviceCount()).isZero();
            assertThat(s.devices()).isEmpty();
            assertThat(s.reason()).isNotBlank();
        }
    }

    @Test
    void probesOnceAndCaches() {
        assertThat(CudaProbe.status()).isSameAs(CudaProbe.status());
    }

    @Test
    void deviceRequestsWithoutCudaNameTheReason() {
        if (CudaProbe.available()) {
            assertThatThrownBy(() -> CudaDevice.get(CudaProbe.deviceCount()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("no CUDA device " + CudaProbe.deviceCount());
        } else {
            assertThatThrownBy(() -> CudaDevice.get(0))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("CUDA is unavailable")
                    .hasMessageContaining(CudaProbe.reason());
        }
    }

    @Test
    void withoutADriverTheReasonNamesTheMissingLibrary() {
        // On a machine without libcuda (CI, most developers' machines) the reason must say what is missing,
        // in one line, not JCuda's multi-page stack dump.
        if (CudaProbe.available() || !CudaProbe.reason().contains("driver library")) return;
        assertThat(CudaProbe.reason()).contains("libcuda").doesNotContain("\n");
    }

    @Test
    void firstCauseKeepsTheLineNamingTheLibrary() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver\"\n"
                + "Stack trace ...\njava.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver.so: libcuda.so.1: cannot open shared object file: No such file or directory\n\tat x");
        assertThat(CudaProbe.firstCause(e)).isEqualTo("libJCudaDriver.so: libcuda.so.1: cannot open shared object file: No such file or directory");
        assertThat(CudaProbe.firstCause(new UnsatisfiedLinkError("something else\nmore"))).isEqualTo("something else");
    }
}
