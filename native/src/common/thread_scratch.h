// Per-thread scratch objects that are safe on every platform this builds for, Windows (MinGW-w64) included.
//
// A plain `thread_local std::vector<T> buf;` is not: MinGW-w64's GCC emulates thread-local storage (emutls),
// and when a thread exits it may free the thread's storage BEFORE the destructors of the thread_local objects
// in it run (two thread-exit callbacks in no fixed order: GCC PR 80816, mingw-w64 bug 527). The destructor
// then reads freed memory and frees whatever it finds there: the Windows kernels_test's avx512 variant
// crashed in RtlFreeHeap under wine when its thread pools' workers exited (the packed GEMM's buffer).
//
// `thread_local ThreadScratch<T> s;` holds only a pointer (trivially destructible and constant-initialized:
// nothing is registered at thread exit). s.get() makes the T on the heap on the thread's first use and hands
// it to a pthread key (POSIX threads: glibc, macOS, MinGW-w64's winpthreads) whose destructor deletes it when
// the thread exits, given the pointer itself, never the thread-local storage. The main thread's objects are
// left to the process's exit, as POSIX runs no key destructors there.
#pragma once
#include <pthread.h>

#include <cstdlib>

namespace frspec {

namespace thread_exit {
struct Node {
  void* object;
  void (*destroy)(void*);
  Node* next;
};
inline void destroy_all(void* head) {
  for (Node* n = static_cast<Node*>(head); n;) {
    Node* next = n->next;
    n->destroy(n->object);
    delete n;
    n = next;
  }
}
// One key for the process: its value is the thread's list of objects to delete.
inline pthread_key_t key() {
  static const pthread_key_t k = [] {
    pthread_key_t made;
    if (pthread_key_create(&made, destroy_all) != 0) std::abort();  // only when the OS is out of keys
    return made;
  }();
  return k;
}
}  // namespace thread_exit

template <class T>
class ThreadScratch {
 public:
  T& get() { return p_ ? *p_ : make(); }

 private:
  T& make() {
    T* p = new T();
    const pthread_key_t k = thread_exit::key();
    pthread_setspecific(k, new thread_exit::Node{p, [](void* o) { delete static_cast<T*>(o); },
                                                static_cast<thread_exit::Node*>(pthread_getspecific(k))});
    return *(p_ = p);
  }
  T* p_ = nullptr;
};

}  // namespace frspec
