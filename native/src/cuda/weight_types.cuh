// Device-side reading of one weight row in the layout of weight_layout.h, one struct per type.
//
// A GEMV lane works on "chunks": the bytes one 16-byte load (plus a few cached scale bytes) brings in,
// and the elements they hold. Each type says how many chunks a row has, how to load chunk c (load) and
// how to read it as runs of consecutive elements (start, run): quants as exact small floats with the
// run's scale (and min), so the GEMV multiplies F32 activations by the quants and applies the scale once
// per run. elem() dequantizes one element exactly as ggml does (get_rows, the prefill GEMM, the generic
// fallback).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace frspec::cuda {

__device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float(uint32_t(h) << 16); }

__device__ __forceinline__ uint4 ld16(const uint8_t* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

// Small integers to float without the slow integer-convert unit: byte i of `bytes` (unsigned) becomes the
// float 2^23 + byte (exponent bits 0x4B placed above it by a byte permute), and one subtraction of
// 2^23 + bias leaves byte - bias, exactly.
template <int kBias>
__device__ __forceinline__ float byte_to_float(uint32_t bytes, int i) {
  return __int_as_float(__byte_perm(bytes, 0x4B000000u, 0x7440u + i)) - float(8388608 + kBias);
}

// Float types: a chunk is kRuns runs of kRL consecutive elements (start, run), multiplied with F32 x.
// Quantized types: a chunk is kQRuns runs of 16 consecutive elements (qstart, qrun) given as four words of
// packed 8-bit quants, with a scale and (Q4_K) a min; the GEMV multiplies them with 8-bit activations by
// dp4a: run contribution = scale * d_x * (sum q qx - kQOffset * sum qx) - min * sum(x). aux() decodes what
// the chunk's runs share (scales) once per chunk.
struct TF32 {
  static constexpr int kElems = 4, kRL = 4, kRuns = 1;
  static constexpr bool kScaled = false, kHasMin = false;
  struct Raw { uint4 v; };
  __device__ static int chunks(int cols) { return cols / kElems; }
  __device__ static void load(const uint8_t* row, int, int c, Raw& r) { r.v = ld16(row + 16 * c); }
  __device__ static int start(int c, int) { return 4 * c; }
  struct Aux {};
  __device__ static Aux aux(const Raw&, int) { return {}; }
  __device__ static void run(const Raw& r, const Aux&, int, float (&w)[kRL], float&, float&) {
    w[0] = __uint_as_float(r.v.x), w[1] = __uint_as_float(r.v.y), w[2] = __uint_as_float(r.v.z), w[3] = __uint_as_float(r.v.w);
  }
  __device__ static float elem(const uint8_t* row, int, int i) { return reinterpret_cast<const float*>(row)[i]; }
};

template <bool kBF16>
struct THalf {  // F16 and BF16: one run of 8 per chunk
  static constexpr int kElems = 8, kRL = 8, kRuns = 1;
  static constexpr bool kScaled = false, kHasMin = false;
  struct Raw { uint4 v; };
  __device__ static int chunks(int cols) { return cols / kElems; }
  __device__ static void load(const uint8_t* row, int, int c, Raw& r) { r.v = ld16(row + 16 * c); }
  __device__ static float cvt(uint16_t h) { return kBF16 ? bf2f(h) : h2f(h); }
  __device__ static int start(int c, int) { return 8 * c; }
  struct Aux {};
  __device__ static Aux aux(const Raw&, int) { return {}; }
  __device__ static void run(const Raw& r, const Aux&, int, float (&w)[kRL], float&, float&) {
    const uint32_t u[4] = {r.v.x, r.v.y, r.v.z, r.v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) w[2 * i] = cvt(uint16_t(u[i] & 0xffff)), w[2 * i + 1] = cvt(uint16_t(u[i] >> 16));
  }
  __device__ static float elem(const uint8_t* row, int, int i) { return cvt(reinterpret_cast<const uint16_t*>(row)[i]); }
};
using TF16 = THalf<false>;
using TBF16 = THalf<true>;

// Q8_0 (repacked): qs[cols] int8 | f16 d[cols/32]. Chunk = 16 quants of one block, two runs of 8.
struct TQ8_0 {
  static constexpr int kElems = 16, kQRuns = 1, kQOffset = 0;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 q; uint16_t d; };
  __device__ static int chunks(int cols) { return cols / 16; }
  __device__ static void load(const uint8_t* row, int cols, int c, Raw& r) {
    r.q = ld16(row + 16 * c);
    r.d = __ldg(reinterpret_cast<const unsigned short*>(row + cols) + c / 2);
  }
  __device__ static int qstart(int c, int) { return 16 * c; }
  struct Aux { float d; };
  __device__ static Aux aux(const Raw& r, int) { return {h2f(r.d)}; }
  __device__ static void qrun(const Raw& r, const Aux& a, int, int (&w)[4], float& scale, float&) {
    w[0] = int(r.q.x), w[1] = int(r.q.y), w[2] = int(r.q.z), w[3] = int(r.q.w);
    scale = a.d;
  }
  __device__ static float elem(const uint8_t* row, int cols, int i) {
    return h2f(reinterpret_cast<const uint16_t*>(row + cols)[i / 32]) * float(reinterpret_cast<const int8_t*>(row)[i]);
  }
};

// Q4_K (ggml blocks of 144 bytes). Chunk c = 16 bytes of qs of super-block c/8: quant bytes
// j*32 + h*16 .. +16 (j = (c%8)/2, h = c%2), whose low nibbles are elements j*64 + h*16 + l and high
// nibbles elements j*64 + 32 + h*16 + l (sub-blocks 2j and 2j+1). Runs: low 0-7, low 8-15, high 0-7, high 8-15.
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
  static constexpr int kElems = 32, kQRuns = 2, kQOffset = 0;
  static constexpr bool kHasMin = true;
  struct Raw { uint4 q; uint4 head; };
  __device__ static int chunks(int cols) { return cols / 32; }
  __device__ static void load(const uint8_t* row, int, int c, Raw& r) {
    const uint8_t* blk = row + 144 * (c / 8);
    r.head = ld16(blk);
    r.q = ld16(blk + 16 + 16 * (c % 8));
  }
  // Run 0: the low nibbles (16 elements of sub-block 2j), run 1: the high nibbles (sub-block 2j+1).
  __device__ static int qstart(int c, int run) {
    const int t = c % 8;
    return (c / 8) * 256 + (t / 2) * 64 + (t % 2) * 16 + run * 32;
  }
  // The chunk's two sub-blocks' scale and min, decoded once per chunk without branches: the 12 packed
  // bytes give four words of 6-bit values, sc[0..3] | m[0..3] | sc[4..7] | m[4..7] (get_scale_min_k4).
  struct Aux { float scale[2], min[2]; };
  __device__ static Aux aux(const Raw& r, int c) {
    const uint32_t w0 = r.head.y, w1 = r.head.z, w2 = r.head.w;
    const int j = (c % 8) / 2;  // sub-blocks 2j, 2j+1: both in 0..3 or both in 4..7
    const uint32_t sc = j < 2 ? (w0 & 0x3F3F3F3Fu) : ((w2 & 0x0F0F0F0Fu) | ((w0 >> 2) & 0x30303030u));
    const uint32_t mn = j < 2 ? (w1 & 0x3F3F3F3Fu) : (((w2 >> 4) & 0x0F0F0F0Fu) | ((w1 >> 2) & 0x30303030u));
    const float d = h2f(uint16_t(r.head.x & 0xffff)), dmin = h2f(uint16_t(r.head.x >> 16));
    const int k = (2 * j) % 4;
    Aux a;
    a.scale[0] = d * byte_to_float<0>(sc, k), a.scale[1] = d * byte_to_float<0>(sc, k + 1);
    a.min[0] = dmin * byte_to_float<0>(mn, k), a.min[1] = dmin * byte_to_float<0>(mn, k + 1);
    return a;
  }
  __device__ static void qrun(const Raw& r, const Aux& a, int run, int (&w)[4], float& scale, float& min) {
    const int shift = 4 * run;
    w[0] = int((r.q.x >> shift) & 0x0F0F0F0Fu), w[1] = int((r.q.y >> shift) & 0x0F0F0F0Fu);
    w[2] = int((r.q.z >> shift) & 0x0F0F0F0Fu), w[3] = int((r.q.w >> shift) & 0x0F0F0F0Fu);
    scale = a.scale[run];
    min = a.min[run];
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
// n*32 + l0 give elements n*128 + l0 + l + 32*part, l < 16, part < 4 (ggml dequantize_row_q6_K).
// Run r = (part, half): elements n*128 + l0 + 32*part + 8*half .. +8.
struct TQ6_K {
  static constexpr int kElems = 64, kQRuns = 4, kQOffset = 32;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 a, b, h; uint32_t sc; uint16_t d; };
  __device__ static int chunks(int cols) { return cols / 64; }
  __device__ static void load(const uint8_t* row, int cols, int c, Raw& r) {
    const int nb = cols / 256, sb = c / 4, t = c % 4, n = t / 2, l0 = 16 * (t % 2);
    const uint8_t* ql = row + sb * 128 + n * 64 + l0;
    r.a = ld16(ql);
    r.b = ld16(ql + 32);
    r.h = ld16(row + nb * 128 + sb * 64 + n * 32 + l0);
    // scales sc[is + 0, 2, 4, 6] with is = l0/16: bytes n*8 + is .. n*8 + is + 7 of this block's 16.
    const uint2 s8 = __ldg(reinterpret_cast<const uint2*>(row + nb * 192 + sb * 16 + n * 8));
    const int is = l0 / 16;
    r.sc = is ? (((s8.x >> 8) & 0xff) | ((s8.x >> 16) & 0xff00) | ((s8.y << 8) & 0xff0000) | (s8.y & 0xff000000))
              : ((s8.x & 0xff) | ((s8.x >> 8) & 0xff00) | ((s8.y << 16) & 0xff0000) | ((s8.y << 8) & 0xff000000));
    r.d = __ldg(reinterpret_cast<const unsigned short*>(row + nb * 208) + sb);
  }
  // Run p: part p, elements n*128 + l0 + 32p + l, l < 16; quants 0..63 (the -32 is applied to the sum).
  __device__ static int qstart(int c, int part) {
    const int t = c % 4;
    return (c / 4) * 256 + (t / 2) * 128 + 16 * (t % 2) + 32 * part;
  }
  struct Aux { float d; uint32_t sc; };  // d, and the four int8 scales biased to unsigned bytes
  __device__ static Aux aux(const Raw& r, int) { return {h2f(r.d), r.sc ^ 0x80808080u}; }
  __device__ static void qrun(const Raw& r, const Aux& a, int part, int (&w)[4], float& scale, float&) {
    const uint4& lo = part % 2 ? r.b : r.a;
    const int lshift = part >= 2 ? 4 : 0, hshift = 2 * part;
    const uint32_t l[4] = {lo.x, lo.y, lo.z, lo.w}, h[4] = {r.h.x, r.h.y, r.h.z, r.h.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) w[i] = int(((l[i] >> lshift) & 0x0F0F0F0Fu) | (((h[i] >> hshift) & 0x03030303u) << 4));
    scale = a.d * byte_to_float<128>(a.sc, part);
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
