package dev.moe4j.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.InputStream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The build's output from cuda-src: fatbins when nvcc was on the PATH, a recorded reason otherwise. */
class FatbinResourcesTest {

    static boolean nvccOnPath() {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(File.pathSeparator)) {
            File f = new File(dir, "nvcc");
            if (f.isFile() && f.canExecute()) return true;
        }
        return false;
    }

    @Test
    void theBuildRecordIsOnTheClassPath() {
        KernelBuild.Info info = KernelBuild.info();
        if (info.built()) {
            assertThat(info.nvcc()).isNotBlank();
            assertThat(info.modules()).containsAll(KernelBuild.MODULES);
            assertThat(info.reason()).isEmpty();
        } else {
            assertThat(info.reason()).isNotBlank();
            assertThatThrownBy(() -> KernelBuild.fatbin("gating"))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining(info.reason());
        }
    }

    @Test
    void fatbinsArePresentWhenNvccIsOnThePath() throws Exception {
        Assumptions.assumeTrue(nvccOnPath(), "nvcc is not on the PATH of this test run, so the build made no fatbins to check");
        assertThat(KernelBuild.available()).as(KernelBuild.reason()).isTrue();
        for (String module : KernelBuild.MODULES) {
            try (InputStream in = KernelBuild.class.getResourceAsStream(KernelBuild.RESOURCE_DIR + module + ".fatbin")) {
                assertThat(in).as(module + ".fatbin").isNotNull();
                byte[] head = in.readNBytes(4);
                // a fatbin starts with the magic 0xBA55ED50, stored little-endian
                assertThat(head).as(module + ".fatbin magic").containsExactly(0x50, 0xED, 0x55, 0xBA);
            }
            assertThat(KernelBuild.fatbin(module).length).as(module + ".fatbin size").isGreaterThan(10_000);
        }
    }
}
