// The KV cache (F32, per layer K[capacity][kv_dim] then V[capacity][kv_dim]) and attention over it.
//
// Attention walks, for each query, the list of keys it may see — committed slots 0..n_past-1, then its
// allowed new slots in increasing order — with an online softmax. The work is split over positions in
// that list, not over slots, so a query decoded alone and the same query verified inside a tree (its
// ancestors at other slots) see the same list and produce bit-identical outputs.
#include <climits>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"
#include "cuda/rope.cuh"

namespace frspec::cuda {
namespace {

__global__ void kv_write_kernel(float* __restrict__ ck, float* __restrict__ cv, const float* __restrict__ k,
                                const float* __restrict__ v, size_t count) {
  pdl_wait();
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    ck[i] = k[i];
    cv[i] = v[i];
  }
}

// Thread e of (layer, K or V) moves element e of each listed slot in list order, so the moves keep the
// sequential semantics of the contract even when a source was an earlier destination.
__global__ void kv_move_kernel(float* cache, int capacity, int kv_dim, const int32_t* __restrict__ src,
                               const int32_t* __restrict__ dst, int n) {
  pdl_wait();
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= kv_dim) return;
  float* plane = cache + size_t(blockIdx.y) * capacity * kv_dim;  // blockIdx.y = layer*2 + (K or V)
  for (int i = 0; i < n; ++i) plane[size_t(dst[i]) * kv_dim + e] = plane[size_t(src[i]) * kv_dim + e];
}

// 4 warps per block, 128 keys per chunk by default: the split that the H200 sweep (cuda_bench --attn-sweep,
// bench/results/gpu-2026-11-26-s2-run3-bench.log) found faster than 16 warps x 256 keys both at 512 cached keys
// (7B F16 step 4014 vs 4088 us) and at 4000 (4589 vs 5051 us): small blocks keep several per SM and hide the
// latency of the key walk, where 16-warp blocks left about one block per SM at long lists. The merge order is
// fixed by the split, which is process-wide, so a tree node and its plain path still give the same bits.
// Warps and chunk stay tunable (attention_tuning below) for A/B runs.
constexpr int kAttnWarps = 4;

template <int DPL>
__device__ __forceinline__ void load_dims(const float* p, float (&r)[DPL]) {
  if constexpr (DPL % 4 == 0) {
#pragma unroll
    for (int i = 0; i < DPL / 4; ++i) {
      const float4 v = __ldg(reinterpret_cast<const float4*>(p) + i);
      r[4 * i] = v.x, r[4 * i + 1] = v.y, r[4 * i + 2] = v.z, r[4 * i + 3] = v.w;
    }
  } else if constexpr (DPL == 2) {
    const float2 v = __ldg(reinterpret_cast<const float2*>(p));
    r[0] = v.x, r[1] = v.y;
  } else {
    r[0] = __ldg(p);
  }
}

// One block per (head, query, chunk of the key list). The query's key list (committed slots
// 0..n_past-1, then its new slots in increasing order) is cut into chunks of `chunk` positions; within a
// chunk, batches of B consecutive positions go to warp w, w+WARPS, ...; each warp keeps an online softmax
// (max, sum, output) with lane l holding dimensions l*DPL .. l*DPL+DPL-1, loading K and V rows of a batch
// together. The warps' states merge in warp order; with `partial` the block stores its unnormalized state
// (max, sum, output) for attention_combine, else it writes the normalized output. Every split depends only
// on list positions, so a node verified in a tree and the same path decoded plainly give the same bits.
// Merges the nch chunk states of one (head, query) at p (stride hd + 2: max, sum, output) in chunk order into
// out[hd]. For a single chunk this is exactly the unsplit kernel's normalization (the factors are 1), so the
// result does not depend on the split. __ldcg: the states come from other blocks of the same launch.
__device__ __forceinline__ void merge_chunks(const float* p, int nch, int hd, float* o) {
  float M = -INFINITY;
  for (int c = 0; c < nch; ++c) M = fmaxf(M, __ldcg(p + c * (hd + 2)));
  float L = 0.f;
  for (int c = 0; c < nch; ++c) {
    const float mc = __ldcg(p + c * (hd + 2));
    L += __ldcg(p + c * (hd + 2) + 1) * (mc == -INFINITY ? 0.f : expf(mc - M));
  }
  const float inv = L > 0.f ? 1.0f / L : 0.f;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float v = 0.f;
    for (int c = 0; c < nch; ++c) {
      const float mc = __ldcg(p + c * (hd + 2));
      v += __ldcg(p + c * (hd + 2) + 2 + d) * (mc == -INFINITY ? 0.f : expf(mc - M));
    }
    o[d] = v * inv;
  }
}

// RoPE of one head held across a warp (lane l: dimensions l*DPL .. l*DPL+DPL-1) with rope.cuh's arithmetic,
// sin/cos given per lane dimension. A pair's partner sits half/DPL lanes away (NEOX), in lane l^1 (adjacent
// pairs, DPL 1) or in the same lane (adjacent, DPL >= 2); (rot/2) % DPL == 0 (the host checks).
template <int DPL>
__device__ __forceinline__ void rope_lanes(float (&r)[DPL], int lane, const NewToken& nt, const float (&sn)[DPL],
                                           const float (&cs)[DPL]) {
  const int rot = nt.rot, half = rot / 2;
  float partner[DPL];
#pragma unroll
  for (int d = 0; d < DPL; ++d) {
    const int dim = lane * DPL + d;
    int src = lane;
    if (dim < rot) src = nt.neox ? (dim < half ? lane + half / DPL : lane - half / DPL) : (DPL == 1 ? lane ^ 1 : lane);
    const float sh = __shfl_sync(0xffffffffu, r[d], src);
    if constexpr (DPL == 1) partner[d] = sh;
    else partner[d] = nt.neox ? sh : r[d ^ 1];
  }
#pragma unroll
  for (int d = 0; d < DPL; ++d) {
    const int dim = lane * DPL + d;
    if (dim >= rot) continue;
    const bool first = nt.neox ? dim < half : (dim & 1) == 0;
    const float x0 = first ? r[d] : partner[d], x1 = first ? partner[d] : r[d];
    r[d] = first ? rope_first(x0, x1, sn[d], cs[d]) : rope_second(x0, x1, sn[d], cs[d]);
  }
}

// NEW (decode of one token, causal): q, k and v of the token are raw projections; the kernel ropes q and k
// on load (the same bits as rope_kv_write), takes the new key and value from registers where the list
// reaches slot n_past, and one block per KV head writes them to the cache there (no other block of this
// launch reads that slot from the cache).
template <int DPL, bool NEW, int WARPS>
__global__ void __launch_bounds__(32 * WARPS)
    attention_kernel(const float* __restrict__ K, const float* __restrict__ V, const float* __restrict__ q,
                     float* __restrict__ out, float* __restrict__ partial, unsigned* __restrict__ counters, int chunk,
                     int n_past, int n, AttnMask mask, const int32_t* __restrict__ new_start,
                     const int32_t* __restrict__ new_keys, int n_heads, int n_kv_heads, float scale, NewToken nt) {
  constexpr int hd = 32 * DPL, B = DPL <= 4 ? 8 : 4;
  // NEW: the rotation's sin/cos (double pow + sincos, ~1-2 us of latency) depend only on the position and
  // the model's frequency factors, not on the previous kernel: computed before the PDL wait, they overlap
  // the q|k|v GEMV's tail instead of adding to each layer's serial path.
  float sn[DPL], cs[DPL];
  if constexpr (NEW) {
    const int lane0 = threadIdx.x & 31;
#pragma unroll
    for (int d = 0; d < DPL; ++d) {
      const int dim = lane0 * DPL + d, half = nt.rot / 2;
      const int i = nt.neox ? (dim < half ? dim : dim - half) : dim / 2;
      sn[d] = 0.f, cs[d] = 1.f;
      if (dim < nt.rot) rope_sincos(i, nt.pos, nt.rot, nt.theta, nt.freq_factors, sn[d], cs[d]);
    }
  }
  pdl_wait();
  __shared__ int list[kMaxMaskTokens];
  __shared__ float part_acc[WARPS][hd];
  __shared__ float part_m[WARPS], part_l[WARPS];
  const int head = blockIdx.x, query = blockIdx.y;
  const int kv_dim = n_kv_heads * hd;
  const int kvh = head / (n_heads / n_kv_heads);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  // Which new slots this query sees: causal (implicit), a bit mask (n <= 64), or device lists.
  int n_new, first_new = 0;
  if (mask.mode == AttnMask::kCausal) {
    n_new = query + 1;
  } else if (mask.mode == AttnMask::kBits) {
    const uint64_t row = mask.bits[query];
    n_new = __popcll(row);
    for (int j = threadIdx.x; j < n; j += blockDim.x)
      if ((row >> j) & 1) list[__popcll(row & ((uint64_t(1) << j) - 1))] = j;
    __syncthreads();
  } else {
    first_new = new_start[query];
    n_new = new_start[query + 1] - first_new;
  }
  const int n_keys = n_past + n_new;
  const int a_begin = blockIdx.z * chunk;
  if (a_begin >= n_keys && blockIdx.z > 0) return;  // this query's list is shorter: the combine skips it
  const int a_end = min(n_keys, a_begin + chunk);
  auto slot_of = [&](int a) -> int {
    if (a < n_past) return a;
    const int rel = a - n_past;
    return n_past + (mask.mode == AttnMask::kCausal ? rel : mask.mode == AttnMask::kBits ? list[rel] : new_keys[first_new + rel]);
  };

  float qr[DPL], knew[DPL], vnew[DPL];
  load_dims<DPL>(q + (size_t(query) * n_heads + head) * hd + lane * DPL, qr);
  if constexpr (NEW) {
    load_dims<DPL>(nt.k + kvh * hd + lane * DPL, knew);
    load_dims<DPL>(nt.v + kvh * hd + lane * DPL, vnew);
    rope_lanes<DPL>(qr, lane, nt, sn, cs);
    rope_lanes<DPL>(knew, lane, nt, sn, cs);
    if (warp == 0 && blockIdx.z == 0 && head % (n_heads / n_kv_heads) == 0) {
#pragma unroll
      for (int d = 0; d < DPL; ++d) {
        nt.ck[kvh * hd + lane * DPL + d] = knew[d];
        nt.cv[kvh * hd + lane * DPL + d] = vnew[d];
      }
    }
  }
#pragma unroll
  for (int d = 0; d < DPL; ++d) qr[d] *= scale;
  const float* Kh = K + kvh * hd + lane * DPL;
  const float* Vh = V + kvh * hd + lane * DPL;

  float m = -INFINITY, l = 0.f, acc[DPL];
#pragma unroll
  for (int d = 0; d < DPL; ++d) acc[d] = 0.f;
  for (int a0 = a_begin + warp * B; a0 < a_end; a0 += WARPS * B) {
    int slot[B];
    float s[B], kr[B][DPL], vr[B][DPL];
#pragma unroll
    for (int j = 0; j < B; ++j) slot[j] = a0 + j < a_end ? slot_of(a0 + j) : -1;
#pragma unroll
    for (int j = 0; j < B; ++j) {
      const int sl = slot[j] >= 0 ? slot[j] : slot[0];  // past the end: a harmless reload, ignored below
      if (NEW && sl == n_past) {  // the new token: from registers (its cache slot is being written)
#pragma unroll
        for (int d = 0; d < DPL; ++d) kr[j][d] = knew[d], vr[j][d] = vnew[d];
        continue;
      }
      load_dims<DPL>(Kh + size_t(sl) * kv_dim, kr[j]);
      load_dims<DPL>(Vh + size_t(sl) * kv_dim, vr[j]);
    }
#pragma unroll
    for (int j = 0; j < B; ++j) {
      float dot = 0.f;
#pragma unroll
      for (int d = 0; d < DPL; ++d) dot = fmaf(qr[d], kr[j][d], dot);
      s[j] = warp_sum(dot);
      if (slot[j] < 0) s[j] = -INFINITY;
    }
    float bmax = s[0];
#pragma unroll
    for (int j = 1; j < B; ++j) bmax = fmaxf(bmax, s[j]);
    const float m_new = fmaxf(m, bmax);
    const float corr = expf(m - m_new);  // 0 for the first batch (m = -inf)
    l *= corr;
#pragma unroll
    for (int d = 0; d < DPL; ++d) acc[d] *= corr;
#pragma unroll
    for (int j = 0; j < B; ++j) {
      if (slot[j] < 0) break;
      const float p = expf(s[j] - m_new);
      l += p;
#pragma unroll
      for (int d = 0; d < DPL; ++d) acc[d] = fmaf(p, vr[j][d], acc[d]);
    }
    m = m_new;
  }
  // Merge the warps' states in warp order.
#pragma unroll
  for (int d = 0; d < DPL; ++d) part_acc[warp][lane * DPL + d] = acc[d];
  if (lane == 0) part_m[warp] = m, part_l[warp] = l;
  __syncthreads();
  float M = part_m[0];
#pragma unroll
  for (int w = 1; w < WARPS; ++w) M = fmaxf(M, part_m[w]);
  float L = 0.f, f[WARPS];
#pragma unroll
  for (int w = 0; w < WARPS; ++w) {
    f[w] = part_m[w] == -INFINITY ? 0.f : expf(part_m[w] - M);
    L += part_l[w] * f[w];
  }
  if (partial) {
    float* p = partial + ((size_t(query) * n_heads + head) * gridDim.z + blockIdx.z) * (hd + 2);
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
      float v = 0.f;
#pragma unroll
      for (int w = 0; w < WARPS; ++w) v += part_acc[w][d] * f[w];
      p[2 + d] = v;
    }
    if (threadIdx.x == 0) p[0] = M, p[1] = L;
    if (!counters) return;  // attention_combine_kernel merges
    // The last of this (head, query)'s chunks to finish merges them (no second launch): a counter per
    // (query, head), reset by the merging block for the next launch.
    __shared__ bool merge;
    const int nch = max(1, (n_keys + chunk - 1) / chunk);
    __threadfence();
    __syncthreads();
    unsigned* counter = counters + size_t(query) * n_heads + head;
    if (threadIdx.x == 0) merge = atomicAdd(counter, 1u) == unsigned(nch - 1);
    __syncthreads();
    if (!merge) return;
    __threadfence();
    merge_chunks(partial + (size_t(query) * n_heads + head) * gridDim.z * (hd + 2), nch, hd,
                 out + (size_t(query) * n_heads + head) * hd);
    if (threadIdx.x == 0) *counter = 0;
    return;
  }
  const float inv = L > 0.f ? 1.0f / L : 0.f;
  float* o = out + (size_t(query) * n_heads + head) * hd;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) v += part_acc[w][d] * f[w];
    o[d] = v * inv;
  }
}

// Merges the chunks of each (head, query) in chunk order. For a single chunk this is exactly the
// unsplit kernel's normalization (the factors are 1), so the result does not depend on the split.
__global__ void attention_combine_kernel(const float* __restrict__ partial, float* __restrict__ out, int n_past,
                                         AttnMask mask, const int32_t* __restrict__ new_start, int n_heads, int hd,
                                         int chunk, int max_chunks) {
  pdl_wait();
  const int head = blockIdx.x, query = blockIdx.y;
  const int n_new = mask.mode == AttnMask::kCausal ? query + 1
                    : mask.mode == AttnMask::kBits ? __popcll(mask.bits[query])
                                                   : new_start[query + 1] - new_start[query];
  const int nch = (n_past + n_new + chunk - 1) / chunk;
  merge_chunks(partial + (size_t(query) * n_heads + head) * max_chunks * (hd + 2), nch, hd,
               out + (size_t(query) * n_heads + head) * hd);
}

// The work split of attention(): read once from the environment, changed by set_attention_tuning. Every
// launch of one process shares it, so a tree node and its plain path (or a batch and its queries one by one)
// still see the same split and stay bit-identical under any setting.
int env_choice(const char* name, int fallback, std::initializer_list<int> allowed) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  for (int a : allowed)
    if (*end == 0 && x == a) return a;
  std::string list;
  for (int a : allowed) list += (list.empty() ? "" : ", ") + std::to_string(a);
  throw std::invalid_argument(std::string("cuda attention: ") + name + " must be one of " + list + ", got '" + v + "'");
}

AttentionTuning& tuning() {
  static AttentionTuning t{env_choice("FRSPEC_CUDA_ATTN_WARPS", kAttnWarps, {4, 8, 16}),
                           env_choice("FRSPEC_CUDA_ATTN_CHUNK", kAttnChunk, {64, 128, 256, 512})};
  return t;
}

}  // namespace

AttentionTuning attention_tuning() { return tuning(); }

void set_attention_tuning(int warps, int chunk) {
  if (warps != 4 && warps != 8 && warps != 16)
    throw std::invalid_argument("cuda attention: warps must be 4, 8 or 16, got " + std::to_string(warps));
  if (chunk != 64 && chunk != 128 && chunk != 256 && chunk != 512)
    throw std::invalid_argument("cuda attention: chunk must be 64, 128, 256 or 512 keys, got " + std::to_string(chunk));
  tuning() = {warps, chunk};
}

void kv_write(float* layer_k, float* layer_v, const float* k, const float* v, int first_slot, int n, int kv_dim,
              cudaStream_t s) {
  const size_t count = size_t(n) * kv_dim, off = size_t(first_slot) * kv_dim;
  const size_t blocks = (count + 255) / 256;
  launch_kernel("kv_write", kv_write_kernel, dim3(unsigned(blocks < 1024 ? blocks : 1024)), dim3(256), s, layer_k + off, layer_v + off, k, v, count);
}

void kv_move(float* cache, int n_layers, int capacity, int kv_dim, const int32_t* src, const int32_t* dst, int n,
             cudaStream_t s) {
  const dim3 grid(ceil_div(kv_dim, 128), 2 * n_layers);
  launch_kernel("kv_move", kv_move_kernel, dim3(grid), dim3(128), s, cache, capacity, kv_dim, src, dst, n);
}

size_t attention_partial_floats(int n, int n_heads, int head_dim, int max_keys) {
  // The current chunk: after set_attention_tuning lowers it, the cache's next partial() call grows its buffer.
  const int chunk = tuning().chunk;
  return size_t(n) * n_heads * ((max_keys + chunk - 1) / chunk) * (head_dim + 2);
}

void attention(const float* layer_k, const float* layer_v, const float* q, float* out, int n_past, int n,
               const AttnMask& mask, const int32_t* new_start, const int32_t* new_keys, int n_heads, int n_kv_heads,
               int head_dim, float scale, float* partial, cudaStream_t s, unsigned* counters, const NewToken* nt) {
  // Split the key list over blocks for small batches (decode, verification) with long lists; prefill
  // batches have parallelism enough in their queries.
  const AttentionTuning t = tuning();
  const int max_keys = n_past + n;
  const bool split = n <= kMaxMaskTokens && max_keys > t.chunk;
  const int chunks = split ? (max_keys + t.chunk - 1) / t.chunk : 1;
  const dim3 grid(n_heads, n, chunks);
  const NewToken none{};
  auto launch = [&]<int DPL>() {
    auto go = [&](auto kernel, int warps) {
      launch_kernel("attention", kernel, grid, dim3(32 * warps), s, layer_k, layer_v, q, out,
                    split ? partial : nullptr, split ? counters : nullptr, split ? t.chunk : INT_MAX, n_past, n, mask,
                    new_start, new_keys, n_heads, n_kv_heads, scale, nt ? *nt : none);
    };
    auto with_warps = [&]<bool NEW>() {
      switch (t.warps) {
        case 4: go(attention_kernel<DPL, NEW, 4>, 4); break;
        case 8: go(attention_kernel<DPL, NEW, 8>, 8); break;
        default: go(attention_kernel<DPL, NEW, 16>, 16); break;
      }
    };
    if (nt) with_warps.template operator()<true>();
    else with_warps.template operator()<false>();
  };
  switch (head_dim) {
    case 32: launch.template operator()<1>(); break;
    case 64: launch.template operator()<2>(); break;
    case 128: launch.template operator()<4>(); break;
    case 256: launch.template operator()<8>(); break;
    default: throw std::invalid_argument("cuda attention: head_dim must be 32, 64, 128 or 256, got " + std::to_string(head_dim));
  }
  if (split && !counters)
    launch_kernel("attention_combine", attention_combine_kernel, dim3(n_heads, n), dim3(head_dim), s, partial, out,
                  n_past, mask, new_start, n_heads, head_dim, t.chunk, chunks);
}

}  // namespace frspec::cuda
