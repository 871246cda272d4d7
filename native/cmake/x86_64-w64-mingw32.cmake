# Cross-compiling the native engine for 64-bit Windows on a Debian machine with MinGW-w64 GCC
# (g++-mingw-w64-x86-64-posix: the posix-threads flavour, which std::thread needs):
#   cmake -S native -B build-win64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=native/cmake/x86_64-w64-mingw32.cmake -DFRSPEC_CUDA=OFF
# The .exe test programs then run under wine (scripts/ci-windows.sh). What Windows needs beyond the compiler
# (static runtime, stack alignment for AVX, the addon's Node-API import library) is in cmake/windows.cmake,
# which a native MinGW build (MSYS2 on Windows) uses too.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_DLLTOOL x86_64-w64-mingw32-dlltool)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
