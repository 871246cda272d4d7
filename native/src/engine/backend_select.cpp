// make_cuda_backend when the CUDA backend is not compiled in: the caller falls back to the CPU with a
// reason it can show. With FRSPEC_HAVE_CUDA the real one lives in ../cuda/.
#include "engine/backend.h"

namespace frspec {

#ifndef FRSPEC_HAVE_CUDA
std::unique_ptr<Backend> make_cuda_backend(int /*device*/, std::string* why) {
  if (why) *why = "this build has no CUDA backend (built without nvcc or with FRSPEC_CUDA=OFF)";
  return nullptr;
}
#endif

}  // namespace frspec
