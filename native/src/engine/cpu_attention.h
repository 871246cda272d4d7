// Masked attention on the CPU for the heads that share one KV head (GQA), over a KV cache whose keys are
// stored in blocks of 16 slots, transposed: kt[(b * head_dim + c) * 16 + l] = K[slot 16b + l][c]. Then a
// query's scores for 16 slots are 16 lanes of one FMA chain over c, with no horizontal sums, and every
// score is the same chain whatever else is computed: a token's attention is bit-identical alone, in a
// prompt, in a tree or after a rollback. Values stay row-major: v[slot * head_dim + c].
#pragma once
#include <cstdint>
#include <vector>

namespace frspec::cpu {

constexpr int kKvBlock = 16;  // slots per key block
constexpr int kMaxGroup = 8;  // query heads scored together (larger groups go in chunks)

// Per-thread scratch, sized for a cache capacity when the cache is made (never per token).
struct AttentionScratch {
  std::vector<float> raw, weights;
  std::vector<int32_t> slots;
  void reserve(int capacity);
};

// q: n_group query heads, contiguous [n_group][head_dim]; out: the same shape. The query sits at slot
// n_past + self and sees the committed slots [0, n_past) and the new slots n_past + j where
// mask_row[j] != 0 (mask_row null: the new slots j <= self).
void attend_group(const float* q, int n_group, const float* kt, const float* v, int head_dim, int n_past,
                  int n_new, int self, const uint8_t* mask_row, float scale, AttentionScratch& s, float* out,
                  int out_stride);

// Writes one slot's key into the blocked layout / reads it back (kv_write, kv_move).
void store_key(float* kt, int head_dim, int slot, const float* key);
void load_key(const float* kt, int head_dim, int slot, float* key);

}  // namespace frspec::cpu
