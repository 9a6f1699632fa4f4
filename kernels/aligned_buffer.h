// AlignedBuffer<T>: a 64-byte aligned, move-only owning array of trivially copyable T.
// Does not construct or destroy elements; Resize() zero-fills. Copying is explicit (Copy()).
// Buffers of 2 MiB or more (weights, the head) are 2 MiB aligned and ask Linux for transparent
// huge pages: decode streams ~0.9 GB per token, and with 4 KiB pages every 4 KiB of it costs a
// TLB miss (2B-4T decode measured 4-17% faster with huge pages, README). Where THP is
// "madvise" (Debian's default) nothing else gives a process huge pages.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace ts::kernels {

inline constexpr size_t kBufferAlignBytes = 64;  // one cache line; also an AVX-512 register
inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Returns at least `bytes` of uninitialized memory (release with std::free), 64-byte aligned, or
// 2 MiB aligned with huge pages requested when bytes >= 2 MiB; *allocated = the size reserved.
inline void* AllocateAligned(size_t bytes, size_t* allocated) {
  const size_t align = bytes >= kHugePageBytes ? kHugePageBytes : kBufferAlignBytes;
  *allocated = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, *allocated);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Advice only: refused (THP "never", old kernels), the memory keeps 4 KiB pages.
  if (align == kHugePageBytes) ::madvise(p, *allocated, MADV_HUGEPAGE);
#endif
  return p;
}

template <class T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "AlignedBuffer holds plain data only");

 public:
  AlignedBuffer() = default;
  // Returns a zero-filled buffer of n elements.
  explicit AlignedBuffer(size_t n) { Resize(n); }
  ~AlignedBuffer() { std::free(data_); }

  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Returns a deep copy (costs an allocation and a memcpy, hence explicit).
  AlignedBuffer Copy() const {
    AlignedBuffer out(size_);
    if (size_ != 0) std::memcpy(out.data_, data_, size_ * sizeof(T));
    return out;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

  // Sets the size to n with all n elements zero. Reuses the memory when it is large enough.
  void Resize(size_t n) {
    if (n > capacity_) {
      size_t bytes = 0;
      void* p = AllocateAligned(n * sizeof(T), &bytes);
      std::free(data_);
      data_ = static_cast<T*>(p);
      capacity_ = bytes / sizeof(T);
    }
    size_ = n;
    if (n != 0) std::memset(static_cast<void*>(data_), 0, n * sizeof(T));
  }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace ts::kernels
