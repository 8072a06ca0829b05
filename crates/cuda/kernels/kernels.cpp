// Every kernel of this folder compiled for the host (one translation unit), and the table
// the emulator finds them in by the names the PTX exports.
#include <cstdio>
#include <cstring>

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
