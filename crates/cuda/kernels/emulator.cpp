// The emulator's scheduler: runs a grid of blocks on OS threads, and each block's threads as
// fibers on one OS thread. A fiber runs until it reaches a barrier or ends; when every live
// fiber of the block is parked, the barrier opens. Even blocks run their threads in index
// order and odd blocks in reverse, so a read of another thread's write that lacks a barrier
// between them sees stale data in one of the two orders and fails the comparison with the cpu.
#include "emulator.h"

#include "fiber.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tk_emu {

thread_local Here here;

namespace {

constexpr size_t kStackBytes = 64 * 1024;

enum class State { Runnable, AtBlock, AtWarp, Done };

struct Fiber {
  Context ctx;
  State state = State::Runnable;
  uint3 tid{0, 0, 0};
  std::unique_ptr<char[]> stack;
};

// One OS thread's block: its fibers (stacks kept from block to block) and the exchange slots
// of the warp shuffles.
struct Block {
  std::vector<Fiber> fibers;
  std::vector<uint64_t> slots;
  Context scheduler;
  size_t current = 0;
  const Kernel* kernel = nullptr;
  void** params = nullptr;
  std::string failure;
};

thread_local Block* block = nullptr;

// A fiber's body: the kernel, as one thread, then back to the scheduler for good.
void fiber_main() {
  Block* b = block;
  b->kernel->run(b->params);
  Fiber& f = b->fibers[b->current];
  f.state = State::Done;
  fiber_switch(f.ctx, b->scheduler);
  __builtin_unreachable();
}

void park(State s) {
  Block* b = block;
  Fiber& f = b->fibers[b->current];
  f.state = s;
  fiber_switch(f.ctx, b->scheduler);
}

// Opens the barriers that every live thread concerned has reached; false when none can open
// (a deadlock: threads of one block wait at different barriers).
bool open_barriers(Block& b, size_t live) {
  bool opened = false;
  size_t n = b.fibers.size();
  for (size_t w = 0; w < n; w += 32) {
    size_t end = w + 32 < n ? w + 32 : n;
    bool all = true, any = false;
    for (size_t i = w; i < end; i++) {
      State s = b.fibers[i].state;
      if (s == State::Done) continue;
      any = true;
      all = all && s == State::AtWarp;
    }
    if (any && all) {
      for (size_t i = w; i < end; i++)
        if (b.fibers[i].state == State::AtWarp) b.fibers[i].state = State::Runnable;
      opened = true;
    }
  }
  if (opened) return true;
  size_t at_block = 0;
  for (auto& f : b.fibers) at_block += f.state == State::AtBlock;
  if (at_block != live) return false;
  for (auto& f : b.fibers)
    if (f.state == State::AtBlock) f.state = State::Runnable;
  return true;
}

void run_block(Block& b, bool reverse) {
  size_t n = b.fibers.size();
  dim3 bd = here.block_dim;
  for (size_t i = 0; i < n; i++) {
    Fiber& f = b.fibers[i];
    f.state = State::Runnable;
    f.tid = uint3{unsigned(i % bd.x), unsigned((i / bd.x) % bd.y), unsigned(i / (size_t(bd.x) * bd.y))};
    fiber_start(f.ctx, f.stack.get(), kStackBytes, fiber_main);
  }
  for (;;) {
    for (size_t k = 0; k < n; k++) {
      size_t i = reverse ? n - 1 - k : k;
      Fiber& f = b.fibers[i];
      if (f.state != State::Runnable) continue;
      b.current = i;
      here.thread_idx = f.tid;
      fiber_switch(b.scheduler, f.ctx);
    }
    size_t live = 0;
    for (auto& f : b.fibers) live += f.state != State::Done;
    if (live == 0) return;
    if (!open_barriers(b, live)) {
      b.failure = "threads of one block wait at different barriers (deadlock)";
      return;
    }
  }
}

}  // namespace

void barrier(bool warp) { park(warp ? State::AtWarp : State::AtBlock); }

uint64_t exchange(uint64_t v, int src_lane) {
  Block* b = block;
  size_t me = b->current;
  b->slots[me] = v;
  barrier(true);
  size_t src = (me & ~size_t(31)) + size_t(src_lane & 31);
  uint64_t out = src < b->slots.size() ? b->slots[src] : v;
  barrier(true);
  return out;
}

int launch(const Kernel& kernel, dim3 grid, dim3 bd, void** params, char* error, size_t error_len) {
  size_t threads_per_block = size_t(bd.x) * bd.y * bd.z;
  size_t blocks = size_t(grid.x) * grid.y * grid.z;
  if (threads_per_block == 0 || threads_per_block > 1024 || blocks == 0) {
    std::snprintf(error, error_len, "%s: bad launch geometry", kernel.name);
    return 1;
  }
  unsigned workers = std::thread::hardware_concurrency();
  if (const char* env = std::getenv("TRIPLETKIT_CUDA_EMULATOR_THREADS")) workers = unsigned(std::atoi(env));
  if (workers == 0) workers = 1;
  if (workers > blocks) workers = unsigned(blocks);

  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::string failure;
  std::atomic_flag failure_lock = ATOMIC_FLAG_INIT;
  auto work = [&] {
    Block b;
    b.fibers.resize(threads_per_block);
    for (auto& f : b.fibers) f.stack.reset(new char[kStackBytes]);
    b.slots.assign(threads_per_block, 0);
    b.kernel = &kernel;
    b.params = params;
    block = &b;
    here.block_dim = bd;
    here.grid_dim = grid;
    for (size_t id; !failed.load() && (id = next.fetch_add(1)) < blocks;) {
      here.block_idx = uint3{unsigned(id % grid.x), unsigned((id / grid.x) % grid.y),
                             unsigned(id / (size_t(grid.x) * grid.y))};
      run_block(b, id % 2 == 1);
      if (!b.failure.empty()) {
        if (!failure_lock.test_and_set()) failure = b.failure;
        failed = true;
      }
    }
    block = nullptr;
  };
  if (workers == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < workers; w++) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  if (failed) {
    std::snprintf(error, error_len, "%s: %s", kernel.name, failure.c_str());
    return 1;
  }
  return 0;
}

}  // namespace tk_emu
