// Stackful fibers for the emulator: a context, its start on a stack of its own, and the
// switch between two contexts. On x86-64 the switch is a dozen instructions (callee-saved
// registers and the floating-point control words; no system call); elsewhere it is
// swapcontext. (glibc's longjmp is no substitute: it runs the thread's cancellation-cleanup
// records as if the frames between were unwound, which a jump to another stack is not.)
#pragma once

#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace tk_emu {

struct Context {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

// Prepares `c` to run `entry` on `stack` (`bytes` long) at its first switch. `entry` never
// returns: it ends by switching away.
void fiber_start(Context& c, char* stack, size_t bytes, void (*entry)());

// Saves the running context into `from` and runs `to`.
void fiber_switch(Context& from, Context& to);

}  // namespace tk_emu
