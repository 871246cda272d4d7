// Device-side reading of one weight row in the layout of weight_layout.h, one struct per type.
//
// A GEMV lane works on "chunks": the bytes one 16-byte load (plus a few cached scale bytes) brings in,
// and the elements they hold. Each type says how many chunks a row has, how to load chunk c (load) and
// how to multiply it with NT activation rows into NT accumulators (dot). Elements are dequantized to F32
// exactly as ggml does (dequantize_row_*), then FMA'd with F32 activations in element order, so a token's
// result depends only on the chunk order — never on how many tokens share the launch.
// elem() dequantizes one element (get_rows, the prefill GEMM's tile loads, the generic fallback).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace frspec::cuda {

__device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float(uint32_t(h) << 16); }

// acc[t] += w[0..16) . x_t[start .. start+16) for the NT activation rows x_t = x + t*ldx.
template <int NT, int N>
__device__ __forceinline__ void dot_run(const float* w, const float* x, int ldx, int start, float (&acc)[NT]) {
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float4* xv = reinterpret_cast<const float4*>(x + size_t(t) * ldx + start);
#pragma unroll
    for (int i = 0; i < N / 4; ++i) {
      const float4 v = __ldg(xv + i);
      acc[t] = fmaf(w[4 * i + 0], v.x, acc[t]);
      acc[t] = fmaf(w[4 * i + 1], v.y, acc[t]);
      acc[t] = fmaf(w[4 * i + 2], v.z, acc[t]);
      acc[t] = fmaf(w[4 * i + 3], v.w, acc[t]);
    }
  }
}

__device__ __forceinline__ uint4 ld16(const uint8_t* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

struct TF32 {
  static constexpr int kElems = 4;
  struct Raw { uint4 v; };
  __device__ static int chunks(int cols) { return cols / kElems; }
  __device__ static void load(const uint8_t* row, int, int c, Raw& r) { r.v = ld16(row + 16 * c); }
  template <int NT>
  __device__ static void dot(const Raw& r, int c, const float* x, int ldx, float (&acc)[NT]) {
    const float w[4] = {__uint_as_float(r.v.x), __uint_as_float(r.v.y), __uint_as_float(r.v.z), __uint_as_float(r.v.w)};
    dot_run<NT, 4>(w, x, ldx, c * 4, acc);
  }
  __device__ static float elem(const uint8_t* row, int, int i) { return reinterpret_cast<const float*>(row)[i]; }
};

template <bool kBF16>
struct THalf {  // F16 and BF16: 8 elements per chunk
  static constexpr int kElems = 8;
  struct Raw { uint4 v; };
  __device__ static int chunks(int cols) { return cols / kElems; }
  __device__ static void load(const uint8_t* row, int, int c, Raw& r) { r.v = ld16(row + 16 * c); }
  __device__ static float cvt(uint16_t h) { return kBF16 ? bf2f(h) : h2f(h); }
  template <int NT>
  __device__ static void dot(const Raw& r, int c, const float* x, int ldx, float (&acc)[NT]) {
    const uint32_t u[4] = {r.v.x, r.v.y, r.v.z, r.v.w};
    float w[8];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      w[2 * i] = cvt(uint16_t(u[i] & 0xffff));
      w[2 * i + 1] = cvt(uint16_t(u[i] >> 16));
    }
    dot_run<NT, 8>(w, x, ldx, c * 8, acc);
  }
  __device__ static float elem(const uint8_t* row, int, int i) { return cvt(reinterpret_cast<const uint16_t*>(row)[i]); }
};
using TF16 = THalf<false>;
using TBF16 = THalf<true>;

// Q8_0 (repacked): qs[cols] int8 | f16 d[cols/32]. Chunk = 16 quants of one block.
struct TQ8_0 {
  static constexpr int kElems = 16;
  struct Raw { uint4 q; uint16_t d; };
  __device__ static int chunks(int cols) { return cols / 16; }
  __device__ static void load(const uint8_t* row, int cols, int c, Raw& r) {
    r.q = ld16(row + 16 * c);
    r.d = __ldg(reinterpret_cast<const unsigned short*>(row + cols) + c / 2);
  }
  template <int NT>
  __device__ static void dot(const Raw& r, int c, const float* x, int ldx, float (&acc)[NT]) {
    const float d = h2f(r.d);
    const uint32_t u[4] = {r.q.x, r.q.y, r.q.z, r.q.w};
    float w[16];
#pragma unroll
    for (int i = 0; i < 16; ++i) w[i] = d * float(int8_t(u[i / 4] >> (8 * (i % 4))));
    dot_run<NT, 16>(w, x, ldx, c * 16, acc);
  }
  __device__ static float elem(const uint8_t* row, int cols, int i) {
    return h2f(reinterpret_cast<const uint16_t*>(row + cols)[i / 32]) * float(reinterpret_cast<const int8_t*>(row)[i]);
  }
};

// Q4_K (ggml blocks of 144 bytes). Chunk c = 16 bytes of qs of super-block c/8: quant bytes
// j*32 + h*16 .. +16 (j = (c%8)/2, h = c%2), whose low nibbles are elements j*64 + h*16 + l and high
// nibbles elements j*64 + 32 + h*16 + l (sub-blocks 2j and 2j+1).
struct Bytes12 {  // the 12 scale bytes of a Q4_K block held in three registers
  uint32_t w0, w1, w2;
  __device__ uint32_t operator[](int k) const { return ((k < 4 ? w0 : k < 8 ? w1 : w2) >> (8 * (k % 4))) & 0xff; }
};
template <class Q>
__device__ __forceinline__ void q4k_scale_min(int j, const Q& q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
struct TQ4_K {
  static constexpr int kElems = 32;
  struct Raw { uint4 q; uint4 head; };
  __device__ static int chunks(int cols) { return cols / 32; }
  __device__ static void load(const uint8_t* row, int, int c, Raw& r) {
    const uint8_t* blk = row + 144 * (c / 8);
    r.head = ld16(blk);
    r.q = ld16(blk + 16 + 16 * (c % 8));
  }
  template <int NT>
  __device__ static void dot(const Raw& r, int c, const float* x, int ldx, float (&acc)[NT]) {
    const int t = c % 8, j = t / 2, h = t % 2;
    const float d = h2f(uint16_t(r.head.x & 0xffff)), dmin = h2f(uint16_t(r.head.x >> 16));
    const Bytes12 scales{r.head.y, r.head.z, r.head.w};  // registers, not a local-memory array
    int sc, m;
    q4k_scale_min(2 * j, scales, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    q4k_scale_min(2 * j + 1, scales, sc, m);
    const float d2 = d * sc, m2 = dmin * m;
    const uint32_t u[4] = {r.q.x, r.q.y, r.q.z, r.q.w};
    float lo[16], hi[16];
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const uint32_t b = (u[i / 4] >> (8 * (i % 4))) & 0xff;
      lo[i] = d1 * float(b & 0xF) - m1;
      hi[i] = d2 * float(b >> 4) - m2;
    }
    const int base = (c / 8) * 256 + j * 64 + h * 16;
    dot_run<NT, 16>(lo, x, ldx, base, acc);
    dot_run<NT, 16>(hi, x, ldx, base + 32, acc);
  }
  __device__ static float elem(const uint8_t* row, int, int i) {
    const uint8_t* blk = row + 144 * (i / 256);
    const int k = i % 256, j = k / 64, hi = (k % 64) / 32, l = k % 32;
    const float d = h2f(reinterpret_cast<const uint16_t*>(blk)[0]), dmin = h2f(reinterpret_cast<const uint16_t*>(blk)[1]);
    int sc, m;
    q4k_scale_min(2 * j + hi, blk + 4, sc, m);
    const uint8_t b = blk[16 + 32 * j + l];
    return d * sc * float(hi ? (b >> 4) : (b & 0xF)) - dmin * m;
  }
};

// Q6_K (repacked): ql[nb*128] | qh[nb*64] | sc[nb*16] | f16 d[nb]. Chunk c of super-block c/4 covers
// half n = (c%4)/2 and l0 = 16*(c%2): 16 bytes of ql at n*64 + l0, 16 at n*64 + 32 + l0, 16 of qh at
// n*32 + l0 give elements n*128 + l0 + l + {0, 32, 64, 96}, l < 16 (ggml dequantize_row_q6_K).
struct TQ6_K {
  static constexpr int kElems = 64;
  struct Raw { uint4 a, b, h; uint32_t sc; uint16_t d; };
  __device__ static int chunks(int cols) { return cols / 64; }
  __device__ static void load(const uint8_t* row, int cols, int c, Raw& r) {
    const int nb = cols / 256, sb = c / 4, t = c % 4, n = t / 2, l0 = 16 * (t % 2);
    const uint8_t* ql = row + sb * 128 + n * 64 + l0;
    r.a = ld16(ql);
    r.b = ld16(ql + 32);
    r.h = ld16(row + nb * 128 + sb * 64 + n * 32 + l0);
    // scales sc[is + 0, 2, 4, 6] with is = l0/16: bytes n*8 + is .. n*8 + is + 7 of this block's 16.
    const uint8_t* sc = row + nb * 192 + sb * 16 + n * 8;
    const uint2 s8 = __ldg(reinterpret_cast<const uint2*>(sc));
    const int is = l0 / 16;
    const uint32_t s[2] = {s8.x, s8.y};
    r.sc = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) r.sc |= ((s[(is + 2 * k) / 4] >> (8 * ((is + 2 * k) % 4))) & 0xff) << (8 * k);
    r.d = __ldg(reinterpret_cast<const unsigned short*>(row + nb * 208) + sb);
  }
  template <int NT>
  __device__ static void dot(const Raw& r, int c, const float* x, int ldx, float (&acc)[NT]) {
    const float d = h2f(r.d);
    const uint32_t a[4] = {r.a.x, r.a.y, r.a.z, r.a.w}, b[4] = {r.b.x, r.b.y, r.b.z, r.b.w},
                   h[4] = {r.h.x, r.h.y, r.h.z, r.h.w};
    const int t = c % 4, n = t / 2, l0 = 16 * (t % 2);
    const int base = (c / 4) * 256 + n * 128 + l0;
#pragma unroll
    for (int part = 0; part < 4; ++part) {
      const float ds = d * float(int8_t(r.sc >> (8 * part)));
      float w[16];
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        const uint32_t qa = (a[i / 4] >> (8 * (i % 4))) & 0xff, qb = (b[i / 4] >> (8 * (i % 4))) & 0xff;
        const uint32_t qh = (h[i / 4] >> (8 * (i % 4))) & 0xff;
        const uint32_t lo4 = part == 0 ? (qa & 0xF) : part == 1 ? (qb & 0xF) : part == 2 ? (qa >> 4) : (qb >> 4);
        const int q = int(lo4 | (((qh >> (2 * part)) & 3) << 4)) - 32;
        w[i] = ds * float(q);
      }
      dot_run<NT, 16>(w, x, ldx, base + 32 * part, acc);
    }
  }
  __device__ static float elem(const uint8_t* row, int cols, int i) {
    const int nb = cols / 256, sb = i / 256, k = i % 256, n = k / 128, r = k % 128, part = r / 32, l = r % 32;
    const uint8_t* ql = row + sb * 128 + n * 64;
    const uint8_t* qh = row + nb * 128 + sb * 64 + n * 32;
    const int8_t* sc = reinterpret_cast<const int8_t*>(row + nb * 192 + sb * 16 + n * 8);
    const float d = h2f(reinterpret_cast<const uint16_t*>(row + nb * 208)[sb]);
    const uint32_t lo4 = part == 0 ? (ql[l] & 0xF) : part == 1 ? (ql[l + 32] & 0xF) : part == 2 ? (ql[l] >> 4) : (ql[l + 32] >> 4);
    const int q = int(lo4 | (((qh[l] >> (2 * part)) & 3) << 4)) - 32;
    return d * float(sc[l / 16 + 2 * part]) * float(q);
  }
};

// Calls f.template operator()<T>() with the traits struct of type t.
template <class F>
void with_type(DType t, F&& f) {
  switch (t) {
    case DType::F32: f.template operator()<TF32>(); break;
    case DType::F16: f.template operator()<TF16>(); break;
    case DType::BF16: f.template operator()<TBF16>(); break;
    case DType::Q8_0: f.template operator()<TQ8_0>(); break;
    case DType::Q4_K: f.template operator()<TQ4_K>(); break;
    case DType::Q6_K: f.template operator()<TQ6_K>(); break;
  }
}

}  // namespace frspec::cuda
