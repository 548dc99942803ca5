package dev.moe4j.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The argument block of {@link NativeLaunch}: each argument's bytes in an aligned slot, and the pointer array. */
class NativeLaunchTest {

    @Test
    void everyArgumentLandsInItsAlignedSlotWithItsBytes() {
        byte[] map = new byte[128];
        for (int i = 0; i < map.length; i++) map[i] = (byte) (i * 7 + 1);
        Object[] args = {null, 5, 2.5f, -7L, new int[] {1, 2, 3}, map, 9};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment block = arena.allocate(NativeLaunch.blockBytes(args), 64);
            MemorySegment pointers = arena.allocate(ADDRESS, args.length);
            NativeLaunch.writeArguments(args, block, pointers);
            long[] offsets = new long[args.length];
            for (int i = 0; i < args.length; i++) offsets[i] = pointers.getAtIndex(ADDRESS, i).address() - block.address();
            // null 0..8, int 8, float 16, long 24, int[3] 32..44, byte[128] at the next 64 (64..192), int 192
            assertThat(offsets).containsExactly(0, 8, 16, 24, 32, 64, 192);
            assertThat(block.get(JAVA_LONG, 0)).isZero();
            assertThat(block.get(JAVA_INT, 8)).isEqualTo(5);
            assertThat(block.get(JAVA_FLOAT, 16)).isEqualTo(2.5f);
            assertThat(block.get(JAVA_LONG, 24)).isEqualTo(-7L);
            assertThat(block.asSlice(32, 12).toArray(JAVA_INT)).containsExactly(1, 2, 3);
            assertThat(block.asSlice(64, 128).toArray(JAVA_BYTE)).containsExactly(map);
            assertThat(block.get(JAVA_INT, 192)).isEqualTo(9);
            assertThat(NativeLaunch.blockBytes(args)).isGreaterThanOrEqualTo(200 + 64 - 8);
        }
    }

    @Test
    void anUnsupportedArgumentTypeIsNamed() {
        assertThatThrownBy(() -> NativeLaunch.slotBytes("text")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("String");
    }

    @Test
    void withoutADriverTheLaunchSaysWhy() {
        if (!NativeLaunch.available()) assertThat(NativeLaunch.reason()).isNotBlank();
        else assertThat(NativeLaunch.reason()).isNull();
    }
}
