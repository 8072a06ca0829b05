// The emulator's interface: a kernel entry (its name and a function that unpacks the
// launch's parameter array, as cuLaunchKernel takes it) and the grid launcher.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "shim.h"

namespace tk_emu {

struct Kernel {
  const char* name;
  void (*run)(void** params);
};

// Calls `F` with the values that `params[i]` point at, typed as F's parameters.
template <auto F>
struct Entry;
template <typename... Args, void (*F)(Args...)>
struct Entry<F> {
  template <size_t... I>
  static void call(void** params, std::index_sequence<I...>) {
    F(*static_cast<std::remove_cv_t<std::remove_reference_t<Args>>*>(params[I])...);
  }
  static void run(void** params) { call(params, std::index_sequence_for<Args...>{}); }
};

// Runs `kernel` over the grid; 0, or non-zero with a message in `error`.
int launch(const Kernel& kernel, dim3 grid, dim3 block, void** params, char* error, size_t error_len);

}  // namespace tk_emu

#define TK_ENTRY(fn) \
  tk_emu::Kernel { #fn, &tk_emu::Entry<&fn>::run }
