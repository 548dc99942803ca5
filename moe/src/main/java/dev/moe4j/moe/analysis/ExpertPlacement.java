package dev.moe4j.moe.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Places the experts of consecutive MoE layers on G devices so that a token's experts in layer l
 * and layer l+1 tend to sit on the same device, after "Exploiting Inter-Layer Expert Affinity for
 * Accelerating Mixture-of-Experts Model Inference" (Yao et al.): every transition that stays on one
 * device is an all-to-all message saved.
 *
 * <p>Greedy algorithm over the chain of layers (each device holds at most ceil(E_l / G) experts of a
 * layer, so the load stays balanced):
 * <ol>
 *   <li>layer 0: expert e on device e / ceil(E_0 / G) (contiguous blocks);</li>
 *   <li>layer l+1, given layer l's placement: traffic[j][g] = sum over the layer-l experts i on device
 *       g of C[i, j] (the {@link ExpertAffinity} counts); take the (j, g) pairs by decreasing traffic
 *       (ties: lower j, then lower g) and put j on g when j is unplaced and g has room; experts
 *       left over go to the devices with room, lowest first.</li>
 * </ol>
 * {@link #colocation} measures the result: the share of transitions that stay on one device.
 */
public final class ExpertPlacement {
    private ExpertPlacement() {}

    /**
     * The placement of a chain of layers.
     *
     * @param chain   affinities of layers (0, 1), (1, 2), ..., each of the next one's lower size
     * @param devices G &gt;= 1
     * @return device of each expert, [L][E_l] with L = chain.size() + 1
     * @throws IllegalArgumentException for an empty chain, G &lt; 1 or mismatched layer sizes
     */
    public static int[][] place(List<ExpertAffinity> chain, int devices) {
        if (chain == null || chain.isEmpty()) throw new IllegalArgumentException("placement needs at least one pair of layers");
        if (devices < 1) throw new IllegalArgumentException("devices must be >= 1, got " + devices);
        for (int l = 1; l < chain.size(); l++) {
            if (chain.get(l).lowerExperts() != chain.get(l - 1).upperExperts()) {
                throw new IllegalArgumentException("affinity " + l + " starts from " + chain.get(l).lowerExperts() + " experts, affinity " + (l - 1)
                        + " ends at " + chain.get(l - 1).upperExperts());
            }
        }
        int[][] out = new int[chain.size() + 1][];
        int e0 = chain.get(0).lowerExperts(), cap0 = ceilDiv(e0, devices);
        out[0] = new int[e0];
        for (int e = 0; e < e0; e++) out[0][e] = e / cap0;
        for (int l = 0; l < chain.size(); l++) out[l + 1] = placeNext(chain.get(l), out[l], devices);
        return out;
    }

    /** Places layer l+1 given layer l's devices (step 2 above). */
    static int[] placeNext(ExpertAffinity affinity, int[] lowerDevice, int devices) {
        int El = affinity.lowerExperts(), Eu = affinity.upperExperts(), cap = ceilDiv(Eu, devices);
        long[][] c = affinity.counts();
        long[][] traffic = new long[Eu][devices];
        for (int i = 0; i < El; i++) for (int j = 0; j < Eu; j++) traffic[j][lowerDevice[i]] += c[i][j];
        List<int[]> pairs = new ArrayList<>();
        for (int j = 0; j < Eu; j++) for (int g = 0; g < devices; g++) pairs.add(new int[] {j, g});
        pairs.sort((a, b) -> {
            int byTraffic = Long.compare(traffic[b[0]][b[1]], traffic[a[0]][a[1]]);
            if (byTraffic != 0) return byTraffic;
            return a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]);
        });
        int[] device = new int[Eu];
        Arrays.fill(device, -1);
        int[] used = new int[devices];
        for (int[] p : pairs) {
            if (device[p[0]] >= 0 || used[p[1]] >= cap) continue;
            device[p[0]] = p[1];
            used[p[1]]++;
        }
        for (int j = 0; j < Eu; j++) {
            if (device[j] >= 0) continue;
            int g = 0;
            while (used[g] >= cap) g++;
            device[j] = g;
            used[g]++;
        }
        return device;
    }

    /**
     * Share of the counted transitions whose two experts sit on the same device (0 when there are none).
     *
     * @param affinity    the counts between two layers
     * @param lowerDevice device of each layer-l expert
     * @param upperDevice device of each layer-l+1 expert
     * @throws IllegalArgumentException when the placements do not fit the affinity's sizes
     */
    public static double colocation(ExpertAffinity affinity, int[] lowerDevice, int[] upperDevice) {
        if (lowerDevice.length != affinity.lowerExperts() || upperDevice.length != affinity.upperExperts()) {
            throw new IllegalArgumentException("placements of " + lowerDevice.length + " and " + upperDevice.length + " experts for an affinity of "
                    + affinity.lowerExperts() + " x " + affinity.upperExperts());
        }
        long[][] c = affinity.counts();
        long same = 0, total = 0;
        for (int i = 0; i < c.length; i++) {
            for (int j = 0; j < c[i].length; j++) {
                total += c[i][j];
                if (lowerDevice[i] == upperDevice[j]) same += c[i][j];
            }
        }
        return total == 0 ? 0 : (double) same / total;
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }
}
