// Device-side reading of one weight row in the layout of weight_layout.h, one struct per type.
//
// A GEMV lane works on "chunks": the bytes one 16-byte load (plus a few cached scale bytes) brings in,
// and the elements they hold. Each type says how many chunks a row has, how to load chunk c (load) and
// how to read it as runs of consecutive elements (start, run): quants as exact small floats with the
// run's scale (and min), so the GEMV multiplies F32 activations by the quants and applies the scale once
// per run. elem() dequantizes one element exactly as ggml does (get_rows, the prefill GEMM, the generic
// fallback).
#pragma once
#ifndef FRSPEC_CUDA_HOST_CHECK  // tests/cuda_layout_test.cpp compiles this header as plain C++ with its own shims
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

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
// packed 8-bit quants (dp4a multiplies them as signed bytes), with a scale and (Q4_K, Q5_K, Q4_1, Q5_1) a min; the GEMV multiplies them with 8-bit activations by
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

// The 32-value formats Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL (repacked, weight_layout.h): rows are pairs of
// blocks A = 2k, B = 2k+1; chunk c = 2k + h holds, in byte l, the nibble of element 16h + l of A (low) and of B
// (high), so the lane pair c, c^1 covers both halves of A (run 0) and of B (run 1): each run's activation block
// of 32 is split over the two lanes, as the GEMV's shuffle-partner quantization expects (matmul.cu). Q5_x: the
// u32 qh'[c] holds bit 4 of those 16 elements of A (bits 0-15) and of B (bits 16-31). Q4_0/Q5_0 subtract their
// offset 8/16 through the activation sum; Q4_1/Q5_1 add m * sum(x); IQ4_NL looks its nibbles up in the
// non-linear table (signed bytes, dp4a multiplies them as they are).
__device__ __forceinline__ uint32_t iq4nl_lookup4(uint32_t nib) {  // 4 nibbles (one per byte) -> 4 table bytes
  constexpr uint32_t t0 = 0xBFAD9881u, t1 = 0xF6EADDCFu, t2 = 0x26190D01u, t3 = 0x71594535u;  // kvalues_iq4nl
  const uint32_t m = nib & 0x07070707u, packed = m | (m >> 4);
  const uint32_t sel = (packed & 0xFFu) | ((packed >> 8) & 0xFF00u);
  const uint32_t lo = __byte_perm(t0, t1, sel), hi = __byte_perm(t2, t3, sel);
  const uint32_t pick = ((nib >> 3) & 0x01010101u) * 0xFFu;
  return (lo & ~pick) | (hi & pick);
}
// Bits 4i..4i+3 of h16 as bit 4 of four bytes.
__device__ __forceinline__ uint32_t spread4_bit4(uint32_t h16, int i) {
  const uint32_t t = (h16 >> (4 * i)) & 0xF;
  return ((t & 1u) << 4) | ((t & 2u) << 11) | ((t & 4u) << 18) | ((t & 8u) << 25);
}
template <bool kMin, bool kFive, bool kTable>
struct TLegacy {
  static constexpr int kElems = 32, kQRuns = 2, kQOffset = kMin || kTable ? 0 : kFive ? 16 : 8;
  static constexpr bool kHasMin = kMin;
  struct Raw { uint4 q; uint32_t d, m, h; };
  // Offsets in a row of nb blocks: quants, then qh' (5-bit), then d, then m.
  __device__ static int qh_at(int nb) { return nb * 16; }
  __device__ static int d_at(int nb) { return nb * 16 + (kFive ? nb * 4 : 0); }
  __device__ static int m_at(int nb) { return d_at(nb) + nb * 2; }
  __device__ static int chunks(int cols) { return cols / 32; }  // 16 bytes: 16 elements of each of two blocks
  __device__ static void load(const uint8_t* row, int cols, int c, Raw& r) {
    const int nb = cols / 32;
    r.q = ld16(row + 16 * c);
    r.d = __ldg(reinterpret_cast<const unsigned*>(row + d_at(nb)) + c / 2);
    if constexpr (kMin) r.m = __ldg(reinterpret_cast<const unsigned*>(row + m_at(nb)) + c / 2);
    if constexpr (kFive) r.h = __ldg(reinterpret_cast<const unsigned*>(row + qh_at(nb)) + c);
  }
  __device__ static int qstart(int c, int run) { return 64 * (c / 2) + 32 * run + 16 * (c % 2); }
  struct Aux {};
  __device__ static Aux aux(const Raw&, int) { return {}; }
  __device__ static void qrun(const Raw& r, const Aux&, int run, int (&w)[4], float& scale, float& min) {
    const uint32_t q[4] = {r.q.x, r.q.y, r.q.z, r.q.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      uint32_t v = (q[i] >> (4 * run)) & 0x0F0F0F0Fu;
      if constexpr (kFive) v |= spread4_bit4((r.h >> (16 * run)) & 0xFFFFu, i);
      if constexpr (kTable) v = iq4nl_lookup4(v);
      w[i] = int(v);
    }
    scale = h2f(uint16_t(r.d >> (16 * run)));
    if constexpr (kMin) min = -h2f(uint16_t(r.m >> (16 * run)));  // the GEMV subtracts min * sum(x)
  }
  __device__ static float elem(const uint8_t* row, int cols, int i) {
    const int nb = cols / 32, b = i / 32, e = i % 32, hb = b % 2, c = 2 * (b / 2) + e / 16, l = e % 16;
    const uint32_t byte = row[16 * c + l];
    uint32_t q = hb ? byte >> 4 : byte & 0xF;
    if constexpr (kFive) q |= ((reinterpret_cast<const uint32_t*>(row + qh_at(nb))[c] >> (16 * hb + l)) & 1u) << 4;
    const float d = h2f(reinterpret_cast<const uint16_t*>(row + d_at(nb))[b]);
    if constexpr (kTable) return d * float(int8_t(iq4nl_lookup4(q) & 0xFF));
    if constexpr (kMin) return d * float(q) + h2f(reinterpret_cast<const uint16_t*>(row + m_at(nb))[b]);
    return d * float(int(q) - kQOffset);
  }
};
using TQ4_0 = TLegacy<false, false, false>;
using TQ4_1 = TLegacy<true, false, false>;
using TQ5_0 = TLegacy<false, true, false>;
using TQ5_1 = TLegacy<true, true, false>;
using TIQ4_NL = TLegacy<false, false, true>;

// Q5_K (ggml blocks of 176 bytes, a multiple of 16: used as stored). Q4_K's chunks, scales and mins (the same
// 16-byte head), plus the fifth bit: element 64j + 16h + l (sub-block 2j) has it in bit 2j of qh[16h + l],
// element 64j + 32 + 16h + l (sub-block 2j+1) in bit 2j+1.
struct TQ5_K {
  static constexpr int kElems = 32, kQRuns = 2, kQOffset = 0;
  static constexpr bool kHasMin = true;
  struct Raw { uint4 q; uint4 head; uint4 h; };
  __device__ static int chunks(int cols) { return cols / 32; }
  __device__ static void load(const uint8_t* row, int, int c, Raw& r) {
    const uint8_t* blk = row + 176 * (c / 8);
    r.head = ld16(blk);
    r.h = ld16(blk + 16 + 16 * (c % 2));
    r.q = ld16(blk + 48 + 16 * (c % 8));
  }
  __device__ static int qstart(int c, int run) { return TQ4_K::qstart(c, run); }
  struct Aux { TQ4_K::Aux k; int hshift; };  // Q4_K's scales and mins; the chunk's sub-blocks 2j, 2j+1: qh bits 2j, 2j+1
  __device__ static Aux aux(const Raw& r, int c) {
    TQ4_K::Raw q4;
    q4.head = r.head;
    return {TQ4_K::aux(q4, c), 2 * ((c % 8) / 2)};
  }
  __device__ static void qrun(const Raw& r, const Aux& a, int run, int (&w)[4], float& scale, float& min) {
    const int shift = 4 * run;
    const uint32_t q[4] = {r.q.x, r.q.y, r.q.z, r.q.w}, h[4] = {r.h.x, r.h.y, r.h.z, r.h.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) w[i] = int(((q[i] >> shift) & 0x0F0F0F0Fu) | (((h[i] >> (a.hshift + run)) & 0x01010101u) << 4));
    scale = a.k.scale[run];
    min = a.k.min[run];
  }
  __device__ static float elem(const uint8_t* row, int, int i) {
    const uint8_t* blk = row + 176 * (i / 256);
    const int k = i % 256, j = k / 64, hi = (k % 64) / 32, l = k % 32;
    const float d = h2f(reinterpret_cast<const uint16_t*>(blk)[0]), dmin = h2f(reinterpret_cast<const uint16_t*>(blk)[1]);
    int sc, m;
    q4k_scale_min(2 * j + hi, blk + 4, sc, m);
    const uint8_t b = blk[48 + 32 * j + l];
    const int q = (hi ? (b >> 4) : (b & 0xF)) | (((blk[16 + l] >> (2 * j + hi)) & 1) << 4);
    return d * sc * float(q) - dmin * m;
  }
};

// IQ4_XS (repacked): qs'[nb*128] | int8 s[nb*8] (the sub-block scales ls - 32) | f16 d[nb]. Within a block,
// chunk t = 2p + h (16 bytes) holds in byte l the nibble of element 16h + l of sub-block 2p (low) and of
// sub-block 2p+1 (high): the lane pair t, t^1 covers both halves of each sub-block, as for TLegacy. The
// nibbles index the non-linear table (signed bytes for dp4a); run r is sub-block 2p + r, scale d * s.
struct TIQ4_XS {
  static constexpr int kElems = 32, kQRuns = 2, kQOffset = 0;
  static constexpr bool kHasMin = false;
  struct Raw { uint4 q; uint32_t s2; uint32_t d; };
  __device__ static int chunks(int cols) { return cols / 32; }
  __device__ static void load(const uint8_t* row, int cols, int c, Raw& r) {
    const int nb = cols / 256, blk = c / 8;
    r.q = ld16(row + 16 * c);
    r.s2 = __ldg(reinterpret_cast<const unsigned short*>(row + nb * 128 + blk * 8) + (c % 8) / 2);
    r.d = __ldg(reinterpret_cast<const unsigned short*>(row + nb * 136) + blk);
  }
  __device__ static int qstart(int c, int run) { return (c / 8) * 256 + (2 * ((c % 8) / 2) + run) * 32 + 16 * (c % 2); }
  struct Aux { float d; };
  __device__ static Aux aux(const Raw& r, int) { return {h2f(uint16_t(r.d))}; }
  __device__ static void qrun(const Raw& r, const Aux& a, int run, int (&w)[4], float& scale, float&) {
    const uint32_t q[4] = {r.q.x, r.q.y, r.q.z, r.q.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) w[i] = int(iq4nl_lookup4((q[i] >> (4 * run)) & 0x0F0F0F0Fu));
    scale = a.d * float(int8_t((r.s2 >> (8 * run)) & 0xFF));
  }
  __device__ static float elem(const uint8_t* row, int cols, int i) {
    const int nb = cols / 256, blk = i / 256, k = i % 256, j = k / 32, e = k % 32;
    const uint32_t byte = row[16 * (blk * 8 + 2 * (j / 2) + e / 16) + e % 16];
    const uint32_t q = j % 2 ? byte >> 4 : byte & 0xF;
    const float d = h2f(reinterpret_cast<const uint16_t*>(row + nb * 136)[blk]);
    const float dl = d * float(reinterpret_cast<const int8_t*>(row + nb * 128)[blk * 8 + j]);
    return dl * float(int8_t(iq4nl_lookup4(q) & 0xFF));
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
    case DType::Q4_0: f.template operator()<TQ4_0>(); break;
    case DType::Q4_1: f.template operator()<TQ4_1>(); break;
    case DType::Q5_0: f.template operator()<TQ5_0>(); break;
    case DType::Q5_1: f.template operator()<TQ5_1>(); break;
    case DType::Q5_K: f.template operator()<TQ5_K>(); break;
    case DType::IQ4_NL: f.template operator()<TIQ4_NL>(); break;
    case DType::IQ4_XS: f.template operator()<TIQ4_XS>(); break;
  }
}

}  // namespace frspec::cuda
