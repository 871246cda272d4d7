// Sleeping until an atomic integer changes, and waking the sleepers: the thread pool's only blocking calls.
// On Windows the OS's own primitive (WaitOnAddress, Windows 8+): libstdc++ 12's std::atomic::wait has no futex
// there and falls back to a shared mutex/condition-variable pool that can miss a notify (GCC PR 106183), and the
// MinGW build's kernels_test then hung for good under wine now and then. Elsewhere std::atomic::wait (a futex on
// Linux, __ulock on macOS).
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
