// See fiber.h.
#include "fiber.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
// tk_fiber_switch(from_sp, to_sp): pushes the callee-saved registers (System V) and the
// MXCSR and x87 control words, saves the stack pointer in *from_sp, loads to_sp and pops the
// same from there, returning into the other context.
extern "C" void tk_fiber_switch(void** from_sp, void* to_sp);
asm(R"(
  .text
  .p2align 4
  .hidden tk_fiber_switch
  .globl tk_fiber_switch
  .type tk_fiber_switch,@function
tk_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size tk_fiber_switch,.-tk_fiber_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");
#endif

namespace tk_emu {

#if defined(__x86_64__)

void fiber_start(Context& c, char* stack, size_t bytes, void (*entry)()) {
  // The first switch pops the frame below and "returns" into entry, with the stack as a call
  // leaves it: entry's rsp + 8 is 16-byte aligned.
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t(15);
  uint64_t* sp = reinterpret_cast<uint64_t*>(top - 72);  // ≡ 8 (mod 16)
  uint32_t mxcsr = 0x1F80;                               // round to nearest, exceptions masked
  uint16_t fpucw = 0x037F;                               // the x87 default
  std::memcpy(reinterpret_cast<char*>(sp), &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(sp) + 4, &fpucw, 2);
  for (int i = 1; i <= 6; i++) sp[i] = 0;                // r15 r14 r13 r12 rbx rbp
  sp[7] = reinterpret_cast<uint64_t>(entry);             // where the switch returns
  sp[8] = 0;                                             // entry's own return address: none
  c.sp = sp;
}

void fiber_switch(Context& from, Context& to) { tk_fiber_switch(&from.sp, to.sp); }

#else

void fiber_start(Context& c, char* stack, size_t bytes, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = bytes;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
}

void fiber_switch(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }

#endif

}  // namespace tk_emu
