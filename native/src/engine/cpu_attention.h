// Masked attention on the CPU for the heads that share one KV head (GQA), over a KV cache whose keys are
// stored in blocks of 16 slots, transposed: kt[(b * head_dim + c) * 16 + l] = K[slot 16b + l][c]. Then a
// query's scores for 16 slots are 16 lanes of one FMA chain over c, with no horizontal sums, and every
// score is the same chain whatever else is computed: a token's attention is bit-identical alone, in a
// prompt, in a tree or after a rollback. Values stay row-major: v[slot * head_dim + c].
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/cpu_variant.h"

namespace frspec::FRSPEC_CPU::cpu {

constexpr int kKvBlock = 16;  // slots per key block
constexpr int kMaxQueries = 16;  // query vectors (rows x heads of one KV head) in one pass
constexpr int kMaxRows = 6;      // batch rows in one pass (groups below 6 heads take several)
constexpr int kMaxHeadDim = 1024;

// Batch rows per pass for a group of n_group heads: the backend hands each task a multiple of it.
int attention_rows_per_pass(int n_group);

// A batch row's visible slots, in order: [0, n_contig), then tail[0 .. n_tail) (increasing, >= n_contig).
// A causal row sees one contiguous range (n_tail 0); a tree row the committed slots and its ancestors.
struct Visible {
  int n_contig;
  const int32_t* tail;
  int n_tail;
  int count() const { return n_contig + n_tail; }
  int last() const { return n_tail ? tail[n_tail - 1] : n_contig - 1; }
};

// Per-thread scratch, sized for a cache capacity when the cache is made (never per token).
struct AttentionScratch {
  std::vector<float> raw, weights, qt;
  std::vector<int32_t> slots;
  void reserve(int capacity);
};

// Rows [first, first + n_rows) of a batch of n_new new tokens, for the n_group query heads that share one
// KV head: q and out point at the first row's first head of the group, rows row_stride floats apart, heads
// head_dim apart. Batch row i sits at slot n_past + i and sees the committed slots [0, n_past) and the new
// slots n_past + j where mask[i * n_new + j] != 0 (mask null: j <= i). A pass takes the group's heads of
// one row (of up to kMaxRows rows for small groups) together: each key block is loaded once for all of
// its query vectors, each value row once for the queries that see it (a row's heads; for several rows,
// the slots they all see); every output still comes from its own FMA chains over its own visible slots
// in order (same bits alone or in a batch, whatever the pass holds).
void attend_rows(const float* q, size_t row_stride, int n_rows, int first, int n_group, const float* kt, const float* v,
                 int head_dim, int n_past, int n_new, const uint8_t* mask, float scale, AttentionScratch& s, float* out);

// Writes one slot's key into the blocked layout / reads it back (kv_write, kv_move).
void store_key(float* kt, int head_dim, int slot, const float* key);
void load_key(const float* kt, int head_dim, int slot, float* key);

}  // namespace frspec::cpu
