#include "engine/tokenizer/word_cache.h"

#include <atomic>
#include <string>
#include <unordered_map>

#include "engine/tokenizer/vocab.h"

namespace ts::tokenizer {
namespace {

std::atomic<uint64_t> g_next_serial{1};

struct ThreadCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
};

ThreadCache& CacheFor(uint64_t serial) {
  thread_local ThreadCache cache;
  if (cache.owner != serial) {
    cache.words.clear();
    cache.owner = serial;
  }
  return cache;
}

}  // namespace

WordCache::WordCache() : serial_(g_next_serial.fetch_add(1)) {}

bool WordCache::Lookup(std::string_view word, std::vector<int32_t>* out) const {
  if (word.size() > kMaxWordBytes) return false;
  const ThreadCache& cache = CacheFor(serial_);
  const auto it = cache.words.find(word);
  if (it == cache.words.end()) return false;
  out->insert(out->end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::Insert(std::string_view word, std::span<const int32_t> ids) const {
  if (word.size() > kMaxWordBytes) return;
  ThreadCache& cache = CacheFor(serial_);
  if (cache.words.size() >= kMaxEntries) cache.words.clear();
  cache.words.emplace(std::string(word), std::vector<int32_t>(ids.begin(), ids.end()));
}

}  // namespace ts::tokenizer
