// Row lookups: the token-embedding lookup (dequantize whole rows to F32) and the FR-Spec row gather
// (copy rows' bytes into a new, smaller weight of the same type and layout).
#include "cuda/cuda_util.cuh"
#include "cuda/kernels.h"
#include "cuda/weight_types.cuh"

namespace frspec::cuda {
namespace {

// Output rows are spread over blockIdx.y (grid-stride: n may exceed the 65535 limit of gridDim.y).
template <class T>
__global__ void get_rows_kernel(const uint8_t* __restrict__ W, size_t stride, int cols, const int32_t* __restrict__ ids,
                                SmallInts small, int n, float* __restrict__ out) {
  pdl_wait();
  for (int r = blockIdx.y; r < n; r += gridDim.y) {
    const uint8_t* row = W + size_t(ids ? ids[r] : small.v[r]) * stride;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < cols; i += gridDim.x * blockDim.x)
      out[size_t(r) * cols + i] = T::elem(row, cols, i);
  }
}

__global__ void copy_rows_kernel(const uint4* __restrict__ src, size_t row_vecs, const int32_t* __restrict__ ids,
                                 int k, uint4* __restrict__ dst) {
  pdl_wait();
  for (int r = blockIdx.y; r < k; r += gridDim.y) {
    const uint4* s = src + size_t(ids[r]) * row_vecs;
    uint4* d = dst + size_t(r) * row_vecs;
    for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < row_vecs; i += size_t(gridDim.x) * blockDim.x) d[i] = s[i];
  }
}

unsigned grid_rows(int n) { return unsigned(n < 65535 ? n : 65535); }

}  // namespace

void get_rows(const Weight& w, const int32_t* ids, const SmallInts& small, int n, float* out, cudaStream_t s) {
  with_type(w.type, [&]<class T>() {
    const dim3 grid(ceil_div(w.cols, 256) < 64 ? ceil_div(w.cols, 256) : 64, grid_rows(n));
    launch_kernel("get_rows", get_rows_kernel<T>, dim3(grid), dim3(256), s, static_cast<const uint8_t*>(w.data), w.row_bytes, int(w.cols), ids, small, n, out);
  });
}

void copy_rows(const uint8_t* src, size_t row_bytes, const int32_t* ids, int k, uint8_t* dst, cudaStream_t s) {
  const size_t vecs = row_bytes / 16;  // rows are padded to 16 bytes (weight_layout.h)
  const dim3 grid(ceil_div(int64_t(vecs), 256) < 16 ? ceil_div(int64_t(vecs), 256) : 16, grid_rows(k));
  launch_kernel("gather_rows", copy_rows_kernel, dim3(grid), dim3(256), s, reinterpret_cast<const uint4*>(src), vecs, ids, k, reinterpret_cast<uint4*>(dst));
}

}  // namespace frspec::cuda
