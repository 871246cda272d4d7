# Windows builds (included by CMakeLists.txt when WIN32): MinGW-w64 GCC only, cross from Debian
# (cmake/x86_64-w64-mingw32.cmake) or native under MSYS2. MSVC is refused: the CPU kernels use GCC's vector
# builtins, target flags and __builtin_cpu_supports.
if(NOT MINGW)
  message(FATAL_ERROR "FR-Spec builds on Windows with MinGW-w64 GCC (MSYS2's mingw-w64-ucrt-x86_64-gcc, or cross from Linux); MSVC is not supported")
endif()

# The amx variant is the avx512 one plus AMX tiles that only Linux grants a process (select_cpu_variant.cpp asks
# arch_prctl; without it the variant never runs): a Windows build leaves it out.
list(REMOVE_ITEM FRSPEC_CPU_VARIANT_NAMES amx)

# GCC keeps AVX/AVX-512 values in stack slots it assumes are 32/64-byte aligned, but Windows x64 aligns the
# stack to 16 bytes only (GCC bug 54412): a spill with vmovaps would fault. The assembler turns every aligned
# vector move into the unaligned form (equally fast on aligned data), so no alignment is assumed.
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wa,-muse-unaligned-vector-move>)
# No interprocedural register allocation: on PE/COFF GCC takes an inline or template function (COMDAT) as bound
# to its own copy and lets callers keep values in registers it saw that copy leave alone, but the linker keeps
# one copy of each, in general another CPU kernel variant's, compiled with other flags and other registers
# (kernels_test's avx512 code lost r10 across std::mt19937's refill, compiled for v3, and crashed).
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-ipa-ra>)
# Self-contained binaries: libgcc, libstdc++ and winpthread linked in, so no MinGW DLL has to travel with
# the programs or the addon.
add_link_options(-static)
# WaitOnAddress/WakeByAddress (engine/atomic_wait.h) live in the Synchronization library.
link_libraries(synchronization)

# The addon without cmake-js: Node-API's headers and its exports (.def files) come from the node-api-headers
# package (FRSPEC_NODE_API_HEADERS = its folder). The import library names NODE.EXE and is delay-loaded:
# addon/win_delay_load_hook.cpp then resolves it to the process that loads the addon, node.exe or an
# Electron editor run as Node (VS Code's sidecar), as node-gyp's hook does.
function(frspec_windows_node_api target)
  set(dir ${FRSPEC_NODE_API_HEADERS})
  if(NOT EXISTS ${dir}/include/node_api.h OR NOT EXISTS ${dir}/def/node_api.def)
    message(FATAL_ERROR "FRSPEC_NODE_API_HEADERS=${dir}: not the node-api-headers package (include/node_api.h, def/node_api.def)")
  endif()
  find_program(FRSPEC_DLLTOOL NAMES ${CMAKE_DLLTOOL} x86_64-w64-mingw32-dlltool dlltool REQUIRED)
  # One export list (node_api.def's EXPORTS plus js_native_api.def's), one delay-import library.
  file(READ ${dir}/def/node_api.def node_def)
  file(READ ${dir}/def/js_native_api.def js_def)
  string(REGEX REPLACE "^[^\n]*\n[^\n]*\n" "" js_exports "${js_def}")  # drop its NAME and EXPORTS lines
  set(def ${CMAKE_CURRENT_BINARY_DIR}/node_api_all.def)
  file(CONFIGURE OUTPUT ${def} CONTENT "${node_def}\n${js_exports}")
  set(lib ${CMAKE_CURRENT_BINARY_DIR}/libnode_api_delay.a)
  add_custom_command(OUTPUT ${lib}
    COMMAND ${FRSPEC_DLLTOOL} --input-def ${def} --dllname NODE.EXE --output-delaylib ${lib}
    DEPENDS ${def} COMMENT "Node-API delay-load import library (NODE.EXE)")
  add_custom_target(${target}_node_api DEPENDS ${lib})
  add_dependencies(${target} ${target}_node_api)
  target_include_directories(${target} PRIVATE ${dir}/include)
  target_link_libraries(${target} PRIVATE ${lib} delayimp)
endfunction()
