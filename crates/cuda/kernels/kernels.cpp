// Every kernel of this folder compiled for the host (one translation unit), the table the
// emulator finds them in by the names the PTX exports, and the tile core's shared-memory bank
// model.
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <map>
#include <set>

#include "emulator.h"

#include "backward.cu"
#include "batch_hard.cu"
#include "contrastive.cu"
#include "distance.cu"
#include "knn.cu"
#include "ladder.cu"
#include "margin.cu"
#include "oasis.cu"
#include "rank.cu"
#include "semihard.cu"
#include "set.cu"
#include "supcon.cu"
#include "verification.cu"

namespace {
const tk_emu::Kernel kKernels[] = {
    TK_ENTRY(tk_distance_tile),
    TK_ENTRY(tk_distance_tile_tf32),
    TK_ENTRY(tk_batch_hard),
    TK_ENTRY(tk_knn_tile),
    TK_ENTRY(tk_topk_merge),
    TK_ENTRY(tk_semihard_positives),
    TK_ENTRY(tk_semihard_fused),
    TK_ENTRY(tk_set_count),
    TK_ENTRY(tk_set_fill),
    TK_ENTRY(tk_set_sample),
    TK_ENTRY(tk_margin_terms),
    TK_ENTRY(tk_pair_distances),
    TK_ENTRY(tk_contrastive_rows),
    TK_ENTRY(tk_contrastive_grad),
    TK_ENTRY(tk_coef_gemm),
    TK_ENTRY(tk_supcon_rows),
    TK_ENTRY(tk_supcon_coef),
    TK_ENTRY(tk_rank_rows),
    TK_ENTRY(tk_rank_coef),
    TK_ENTRY(tk_ladder_rows),
    TK_ENTRY(tk_oasis_steps),
};
}  // namespace

extern "C" int tk_emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                             unsigned by, unsigned bz, void** params, char* error,
                             size_t error_len) {
  for (const auto& k : kKernels) {
    if (std::strcmp(k.name, name) == 0) {
      return tk_emu::launch(k, dim3{gx, gy, gz}, dim3{bx, by, bz}, params, error, error_len);
    }
  }
  std::snprintf(error, error_len, "the emulator has no kernel named %s", name);
  return 2;
}

// The shared-memory bank model of the tile core (common.cuh). For each way a block's warps
// touch a TkTiles, the worst count of distinct 4-byte words that one access of a warp puts in
// one of the 32 banks: 1 is conflict-free, n costs n passes. 16-byte accesses are split by
// quarter warps, as the hardware serves them. The addresses come from the index functions
// the kernels use.
namespace {
TkTiles g_tiles;

int word(const float* p) { return (int)(p - &g_tiles.a[0][0][0]); }

// The ways of one access: words[lane] (and the `width` - 1 words after it) for 32 lanes.
int access_ways(const int* words, int width) {
  const int group = width == 4 ? 8 : 32;
  int worst = 0;
  for (int first = 0; first < 32; first += group) {
    std::map<int, std::set<int>> banks;
    for (int lane = first; lane < first + group; lane++)
      for (int i = 0; i < width; i++) banks[(words[lane] + i) % 32].insert(words[lane] + i);
    for (const auto& b : banks) {
      const int n = (int)b.second.size();
      worst = n > worst ? n : worst;
    }
  }
  return worst;
}
}  // namespace

// Patterns: 0 the fill's stores (both sides), 1 and 2 the TF32 A and B fragment loads, 3 the
// FP32 float4 reads. Returns the worst ways over every warp, stage and access; -1 for an
// unknown pattern.
extern "C" int tk_emu_bank_ways(int pattern) {
  int worst = 0;
  // One access of a warp: `at(lane)` is the first word that lane touches.
  const auto note = [&worst](int warp, int width, auto at) {
    int words[32];
    for (int lane = 0; lane < 32; lane++) words[lane] = at(lane, warp * 32 + lane);
    const int w = access_ways(words, width);
    worst = w > worst ? w : worst;
  };
  for (int cur = 0; cur < 2; cur++)
    for (int warp = 0; warp < TK_THREADS / 32; warp++) {
      const int wm = (warp & 1) * 64, wn = (warp >> 1) * 32;
      switch (pattern) {
        case 0:
          for (const auto side : {g_tiles.a, g_tiles.b})
            for (int q = 0; q < 4; q++)
              note(warp, 1, [&](int, int t) {
                return word(&side[cur][tk_fill_k(t)][tk_fill_row(t, q)]);
              });
          break;
        case 1:
          for (int mi = 0; mi < 4; mi++)
            for (int v = 0; v < 4; v++)
              note(warp, 1, [&](int lane, int) {
                return word(
                    &g_tiles.a[cur][tk_frag_a_k(lane, v)][wm + mi * 16 + tk_frag_a_row(lane, v)]);
              });
          break;
        case 2:
          for (int ni = 0; ni < 4; ni++)
            for (int v = 0; v < 2; v++)
              note(warp, 1, [&](int lane, int) {
                return word(
                    &g_tiles.b[cur][tk_frag_b_k(lane, v)][wn + ni * 8 + tk_frag_b_col(lane)]);
              });
          break;
        case 3:
          // A thread's rows by its row of the 16 × 16 threads, its columns by its column.
          for (int kk = 0; kk < TK_STEP; kk++)
            for (int r = 0; r < TK_PER; r += 4) {
              note(warp, 4,
                   [&](int, int t) { return word(&g_tiles.a[cur][kk][tk_tile_row(t / 16, r)]); });
              note(warp, 4,
                   [&](int, int t) { return word(&g_tiles.b[cur][kk][tk_tile_row(t % 16, r)]); });
            }
          break;
        default:
          return -1;
      }
    }
  return worst;
}
