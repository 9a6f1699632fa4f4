// MemoryArena: blocks from AllocateAligned (huge pages), handed out front to back.
#include "kernels/memory_arena.h"

#include <cstdlib>
#include <new>

namespace ts::kernels {

MemoryArena::~MemoryArena() {
  for (void* block : blocks_) std::free(block);
}

void* MemoryArena::Take(size_t bytes) {
  const size_t rounded = (bytes + kBufferAlignBytes - 1) / kBufferAlignBytes * kBufferAlignBytes;
  if (rounded > block_free_) {
    const size_t block_bytes = rounded > block_bytes_ ? rounded : block_bytes_;
    void* block = AllocateAligned(block_bytes);
    if (block == nullptr) throw std::bad_alloc();
    blocks_.push_back(block);
    next_ = static_cast<char*>(block);
    block_free_ = block_bytes;
  }
  void* p = next_;
  next_ += rounded;
  block_free_ -= rounded;
  bytes_taken_ += rounded;
  return p;
}

}  // namespace ts::kernels
