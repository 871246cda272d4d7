// Sleeping until an atomic integer changes, and waking the sleepers: the thread pool's only blocking calls.
// On Windows the OS's own primitive (WaitOnAddress, Windows 8+): libstdc++ 12's std::atomic::wait has no futex
// there and falls back to a "proxied" mutex/condition-variable wait whose version check races with the notify, so
// a notification can be missed (libstdc++ later moved that code into the library to fix it; Linux's futex re-checks
// and was spared). The MinGW build's kernels_test then hung for good under wine in 3 of 5 runs (0 of 5 after).
// Elsewhere std::atomic::wait (a futex on Linux, __ulock on macOS).
#pragma once

#include <atomic>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#endif

namespace frspec {

// Returns once `a` no longer holds `old` (or spuriously: callers re-check in a loop).
template <class T>
inline void atomic_wait(std::atomic<T>& a, T old) {
  static_assert(std::atomic<T>::is_always_lock_free && sizeof(std::atomic<T>) == sizeof(T));
#if defined(_WIN32)
  if (a.load() == old) WaitOnAddress(&a, &old, sizeof(T), INFINITE);
#else
  a.wait(old);
#endif
}

template <class T>
inline void atomic_notify_one(std::atomic<T>& a) {
#if defined(_WIN32)
  WakeByAddressSingle(&a);
#else
  a.notify_one();
#endif
}

template <class T>
inline void atomic_notify_all(std::atomic<T>& a) {
#if defined(_WIN32)
  WakeByAddressAll(&a);
#else
  a.notify_all();
#endif
}

}  // namespace frspec
