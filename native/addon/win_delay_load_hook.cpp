// Windows only: the addon's Node-API imports name NODE.EXE and are delay-loaded (cmake/windows.cmake). When the
// first one is called, this hook hands back the module of the running process instead of loading NODE.EXE, so
// the addon works in node.exe and in an Electron editor run as Node (Code.exe with ELECTRON_RUN_AS_NODE,
// which exports Node-API itself), as node-gyp's win_delay_load_hook does.
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
// windows.h first: delayimp.h uses its types.
#include <delayimp.h>

#include <cstring>

namespace {

FARPROC WINAPI load_exe_hook(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary || _stricmp(info->szDll, "NODE.EXE") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

}  // namespace

extern "C" PfnDliHook __pfnDliNotifyHook2 = load_exe_hook;
#endif
