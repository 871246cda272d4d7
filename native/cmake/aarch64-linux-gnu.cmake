# Cross-compiling the native engine for 64-bit ARM Linux on an x86-64 Debian machine (g++-aarch64-linux-gnu):
#   cmake -S native -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=native/cmake/aarch64-linux-gnu.cmake -DFRSPEC_CUDA=OFF
# The programs then run under qemu-user: qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max build-arm64/kernels_test
# (scripts/ci-arm64.sh). CMAKE_SYSTEM_PROCESSOR picks the arm64 CPU kernel variants in native/CMakeLists.txt.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Test programs run through qemu-user when CMake or a script needs to execute them.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
