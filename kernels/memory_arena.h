// MemoryArena: one run of memory (huge pages) that many buffers take theirs from, one after
// another in the order they ask. The model's ternary matrices live in one, laid out in the order
// a forward pass reads them, so decode streams them from few huge pages instead of each small
// matrix (q/k/v/o: 0.4-1.6 MB, below a huge page) from its own 4 KB pages. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstring>
#include <vector>

#include "kernels/aligned_buffer.h"

namespace ts::kernels {

class MemoryArena {
 public:
  // Memory is taken from blocks of block_bytes (a larger request gets a block of its own).
  explicit MemoryArena(size_t block_bytes = size_t{64} << 20) : block_bytes_(block_bytes) {}
  ~MemoryArena();
  MemoryArena(const MemoryArena&) = delete;
  MemoryArena& operator=(const MemoryArena&) = delete;

  // Returns `bytes` of uninitialized memory, 64-byte aligned, valid until the arena is destroyed.
  // Consecutive requests that fit one block are adjacent. Throws std::bad_alloc.
  void* Take(size_t bytes);

  // Returns the bytes handed out so far (with alignment padding).
  size_t bytes_taken() const { return bytes_taken_; }

 private:
  size_t block_bytes_;
  std::vector<void*> blocks_;
  char* next_ = nullptr;   // the first free byte of blocks_.back()
  size_t block_free_ = 0;  // bytes left after next_ in that block
  size_t bytes_taken_ = 0;
};

// Sets buf to n zeros in memory taken from arena (buf borrows it: see AlignedBuffer::Borrow).
template <class T>
void ResizeInArena(AlignedBuffer<T>& buf, size_t n, MemoryArena& arena) {
  if (n == 0) {
    buf.Resize(0);
    return;
  }
  void* memory = arena.Take(n * sizeof(T));
  std::memset(memory, 0, n * sizeof(T));
  buf.Borrow(static_cast<T*>(memory), n);
}

}  // namespace ts::kernels
