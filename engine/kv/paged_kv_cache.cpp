#include "engine/kv/paged_kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>

#include "kernels/aligned_buffer.h"
#include "kernels/quantize.h"
#include "kernels/softmax.h"
#include "kernels/vector_ops.h"

namespace ts::kv {

size_t KvBytesPerToken(const KvShape& s, KvType type) {
  return static_cast<size_t>(s.n_layers) * 2 * s.n_kv_heads * KvRowBytes(type, s.head_dim);
}

PagedKvCache::PagedKvCache(const KvShape& shape, KvType type, int block_size, int n_blocks,
                           int n_slots, int max_ctx)
    : shape_(shape),
      type_(type),
      block_size_(block_size),
      max_ctx_(max_ctx),
      row_bytes_(KvRowBytes(type, shape.head_dim)),
      run_bytes_(row_bytes_ * static_cast<size_t>(block_size)),
      n_blocks_(static_cast<size_t>(n_blocks)),
      pool_(n_blocks, block_size),
      // Not initialized: the kernel maps pages only when a block is first written. Huge pages:
      // a sequence whose blocks are scattered has its 2 KB runs far apart, and with 4 KB pages
      // every run was a TLB miss (ts_kv_bench at depth 4096: 26.0-26.9 -> 23.3-23.6 ms).
      storage_(static_cast<uint8_t*>(
          kernels::AllocateAligned(KvBytesPerToken(shape, type) * block_size * n_blocks_))),
      tables_(static_cast<size_t>(n_slots)),
      hashes_(static_cast<size_t>(n_slots)) {
  if (!storage_) throw std::bad_alloc();
  if (shape.head_dim > kMaxHeadDim) throw std::invalid_argument("head_dim above " + std::to_string(kMaxHeadDim));
  if (type == KvType::kQ8 && block_size % 4 != 0) {
    // The values are stored in quads of 4 tokens (kernels::ValueCodeIndex).
    throw std::invalid_argument("q8 KV cache needs a block size that is a multiple of 4");
  }
  if (type == KvType::kQ4 && shape.head_dim % kQ4Group != 0) {
    throw std::invalid_argument("q4 KV cache needs head_dim to be a multiple of 16");
  }
}

uint8_t* PagedKvCache::Row(int block, int layer, int kv, int offset, int kv_head) const {
  // Storage layout: [layer][kv head][K=0|V=1][block][offset in block] rows. Attention walks one
  // (layer, kv head) through a sequence's blocks, so when their ids are consecutive (BlockPool
  // hands a growing sequence a neighbouring id when it can; a descending table is walked from
  // its end) it streams one contiguous run: ~28 GB/s on one core here, where 2 KB pieces in
  // scattered places read at ~10.
  const size_t run = (static_cast<size_t>(layer) * shape_.n_kv_heads + kv_head) * 2 + kv;
  return storage_.get() + (run * n_blocks_ + static_cast<size_t>(block)) * run_bytes_ +
         static_cast<size_t>(offset) * row_bytes_;
}

void PagedKvCache::Write(int layer, int slot, int pos, const float* k, const float* v) {
  const auto& table = tables_.at(static_cast<size_t>(slot));
  const auto block_index = static_cast<size_t>(pos / block_size_);
  if (pos < 0 || block_index >= table.size()) throw std::out_of_range("KV write outside the slot's blocks");
  const int block = table[block_index];
  const int offset = pos % block_size_;
  if (type_ == KvType::kQ8) {
    for (int h = 0; h < shape_.n_kv_heads; ++h) {
      WriteI8(Row(block, layer, 0, 0, h), offset, k + h * shape_.head_dim, true);
      WriteI8(Row(block, layer, 1, 0, h), offset, v + h * shape_.head_dim, false);
    }
    return;
  }
  for (int h = 0; h < shape_.n_kv_heads; ++h) {
    KvStoreRow(type_, k + h * shape_.head_dim, shape_.head_dim, Row(block, layer, 0, offset, h));
    KvStoreRow(type_, v + h * shape_.head_dim, shape_.head_dim, Row(block, layer, 1, offset, h));
  }
}

void PagedKvCache::WriteI8(uint8_t* run, int offset, const float* x, bool dimension_major) {
  const int head_dim = shape_.head_dim;
  uint8_t row[4 + kMaxHeadDim];  // the q8 row: f32 scale, then head_dim codes
  KvStoreRow(KvType::kQ8, x, head_dim, row);
  std::memcpy(run + static_cast<size_t>(offset) * 4, row, 4);
  uint8_t* codes = run + static_cast<size_t>(block_size_) * 4;
  if (dimension_major) {
    for (int d = 0; d < head_dim; ++d)
      codes[static_cast<size_t>(d) * block_size_ + offset] = row[4 + d];
  } else {
    for (int d = 0; d < head_dim; ++d)
      codes[kernels::ValueCodeIndex(offset, d, head_dim)] = row[4 + d];
  }
}

void PagedKvCache::Attend(int layer, int slot, int n_pos, const float* q, int head_begin, int head_end, float* out,
                          float* scratch) const {
  AttendRun(layer, slot, n_pos - 1, 1, q, 0, head_begin, head_end, out, scratch);
}

void PagedKvCache::AttendRun(int layer, int slot, int first_pos, int n_queries, const float* q,
                             int ld, int head_begin, int head_end, float* out,
                             float* scratch) const {
  const auto& table = tables_.at(static_cast<size_t>(slot));
  const int n_pos = first_pos + n_queries;  // positions the last query sees
  if (n_queries <= 0 || first_pos < 0 || head_begin >= head_end) return;
  if (static_cast<size_t>((n_pos - 1) / block_size_) >= table.size()) throw std::out_of_range("KV read past the slot");
  if (type_ == KvType::kQ8) {
    AttendRunI8(layer, slot, first_pos, n_queries, q, ld, head_begin, head_end, out, scratch);
    return;
  }
  const int head_dim = shape_.head_dim;
  const int group = shape_.n_heads / shape_.n_kv_heads;
  const float inv_sqrt_d = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const kernels::VectorOps& ops = kernels::ActiveVectorOps();
  const int n_blocks = (n_pos + block_size_ - 1) / block_size_;
  float row[kMaxHeadDim];
  // GQA: the query heads of one KV head, for every query of the run, are processed together,
  // so each stored row is dequantized once (into `row`) and used by all of them.
  for (int kvh = head_begin / group; kvh * group < head_end; ++kvh) {
    const int h0 = std::max(head_begin, kvh * group), h1 = std::min(head_end, (kvh + 1) * group);
    const int n_q = h1 - h0;
    // Scores of query i, head h0 + g at scratch[(i * n_q + g) * n_pos + p].
    auto scores = [&](int i, int g) {
      return scratch + (static_cast<size_t>(i) * n_q + g) * n_pos;
    };
    auto query = [&](int i, int g) {
      return q + static_cast<ptrdiff_t>(i) * ld + (h0 + g) * head_dim;
    };
    auto output = [&](int i, int g) {
      return out + static_cast<ptrdiff_t>(i) * ld + (h0 + g) * head_dim;
    };
    // K or V rows of this head, block by block; the next block's run is prefetched because
    // blocks are scattered in memory where the hardware prefetcher cannot follow.
    auto for_each_row = [&](int kv, auto&& fn) {
      for (int b = 0; b < n_blocks; ++b) {
        const uint8_t* rows = Row(table[static_cast<size_t>(b)], layer, kv, 0, kvh);
        if (b + 1 < n_blocks) {
          const uint8_t* next = Row(table[static_cast<size_t>(b) + 1], layer, kv, 0, kvh);
          for (size_t at = 0; at < row_bytes_ * static_cast<size_t>(block_size_); at += 64)
            __builtin_prefetch(next + at);
        }
        const int p0 = b * block_size_, n = std::min(block_size_, n_pos - p0);
        for (int j = 0; j < n; ++j) fn(p0 + j, rows + static_cast<size_t>(j) * row_bytes_);
      }
    };
    // Position p is seen by the queries from max(0, p - first_pos) on (causal).
    auto first_seeing = [&](int p) { return std::max(0, p - first_pos); };
    for_each_row(0, [&](int p, const uint8_t* k) {
      KvLoadRow(type_, k, head_dim, row);
      for (int i = first_seeing(p); i < n_queries; ++i) {
        for (int g = 0; g < n_q; ++g)
          scores(i, g)[p] = ops.dot_f32(row, query(i, g), head_dim) * inv_sqrt_d;
      }
    });
    for (int i = 0; i < n_queries; ++i) {
      for (int g = 0; g < n_q; ++g) {
        kernels::Softmax(scores(i, g), first_pos + i + 1);
        std::memset(output(i, g), 0, sizeof(float) * static_cast<size_t>(head_dim));
      }
    }
    for_each_row(1, [&](int p, const uint8_t* v) {
      KvLoadRow(type_, v, head_dim, row);
      for (int i = first_seeing(p); i < n_queries; ++i) {
        for (int g = 0; g < n_q; ++g) ops.axpy_f32(row, scores(i, g)[p], output(i, g), head_dim);
      }
    });
  }
}

void PagedKvCache::AttendRunI8(int layer, int slot, int first_pos, int n_queries, const float* q,
                               int ld, int head_begin, int head_end, float* out,
                               float* scratch) const {
  const auto& table = tables_.at(static_cast<size_t>(slot));
  const int n_pos = first_pos + n_queries;
  const int head_dim = shape_.head_dim;
  const int group = shape_.n_heads / shape_.n_kv_heads;
  const float inv_sqrt_d = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const kernels::VectorOps& ops = kernels::ActiveVectorOps();
  const int n_blocks = (n_pos + block_size_ - 1) / block_size_;
  const size_t run_bytes = row_bytes_ * static_cast<size_t>(block_size_);
  // Per (query, head) pointers: every query of the run and every query head of one KV head go
  // through the kernels together, so each stored row is loaded once for all of them.
  thread_local std::vector<const float*> weights;
  thread_local std::vector<float*> scores, outputs, block_scores;
  thread_local std::vector<float> block_scales;
  // Queries as int8 (absmax per query head, like the activations of the ternary matmuls), so
  // the scores are integer dot products with the int8 keys (vpdpbusd where the CPU has it).
  thread_local std::vector<kernels::QuantizedActivations> quantized_queries;
  thread_local std::vector<const int8_t*> query_codes;
  thread_local std::vector<float> query_scales;
  block_scales.resize(static_cast<size_t>(block_size_));
  for (int kvh = head_begin / group; kvh * group < head_end; ++kvh) {
    const int h0 = std::max(head_begin, kvh * group), h1 = std::min(head_end, (kvh + 1) * group);
    const int n_q = h1 - h0, m = n_queries * n_q;
    query_codes.resize(static_cast<size_t>(m));
    query_scales.resize(static_cast<size_t>(m));
    if (quantized_queries.size() < static_cast<size_t>(n_queries)) {
      quantized_queries.resize(static_cast<size_t>(n_queries));
    }
    weights.resize(static_cast<size_t>(m));
    scores.resize(static_cast<size_t>(m));
    outputs.resize(static_cast<size_t>(m));
    block_scores.resize(static_cast<size_t>(m));
    for (int i = 0; i < n_queries; ++i) {
      // Query i's heads h0..h1-1 are n_q consecutive rows of head_dim floats.
      kernels::QuantizedActivations& qa = quantized_queries[static_cast<size_t>(i)];
      kernels::QuantizeActivations(q + static_cast<ptrdiff_t>(i) * ld + h0 * head_dim, n_q,
                                   head_dim, head_dim, &qa);
      for (int g = 0; g < n_q; ++g) {
        const auto k = static_cast<size_t>(i * n_q + g);
        query_codes[k] = qa.q.data() + static_cast<size_t>(g) * qa.n_cols_padded;
        query_scales[k] = 1.0f / qa.scale[static_cast<size_t>(g)];
        scores[k] = scratch + k * static_cast<size_t>(n_pos);
        outputs[k] = out + static_cast<ptrdiff_t>(i) * ld + (h0 + g) * head_dim;
      }
    }
    // Calls fn(p0, n, codes) for each block's K (kv 0) or V (kv 1) run of this head with the
    // run's n scales copied to block_scales (a run need not be 4-byte aligned), prefetching the
    // next block's run (blocks may be scattered where the hardware prefetcher cannot follow).
    // The key pass also prefetches the next V run into L2 (a head's V runs at depth 4096 are 0.5
    // MB): the value pass then finds them there instead of walking scattered blocks through DRAM
    // a second time (ts_kv_bench depth 4096: 21.2-22.9 -> 19.1-20.7 ms in the block-major layout;
    // dropping it in the current one: 14.7-15.9 -> 17.3-18.3).
    //
    // A table whose ids descend (blocks taken back from the LRU list come that way) is walked
    // from its end, so that memory is still read upwards, the direction the hardware streams.
    const bool backwards = n_blocks > 1 && table[1] < table[0];
    auto for_each_block = [&](int kv, auto&& fn) {
      for (int walked = 0; walked < n_blocks; ++walked) {
        const int b = backwards ? n_blocks - 1 - walked : walked;
        const uint8_t* run = Row(table[static_cast<size_t>(b)], layer, kv, 0, kvh);
        if (walked + 1 < n_blocks) {
          const int next_block = table[static_cast<size_t>(backwards ? b - 1 : b + 1)];
          const uint8_t* next = Row(next_block, layer, kv, 0, kvh);
          for (size_t at = 0; at < run_bytes; at += 64) __builtin_prefetch(next + at);
          if (kv == 0) {
            const uint8_t* next_values = Row(next_block, layer, 1, 0, kvh);
            for (size_t at = 0; at < run_bytes; at += 64) {
              __builtin_prefetch(next_values + at, /*rw=*/0, /*locality=*/2);  // L2
            }
          }
        }
        const int p0 = b * block_size_, n = std::min(block_size_, n_pos - p0);
        std::memcpy(block_scales.data(), run, static_cast<size_t>(n) * 4);
        fn(p0, n, reinterpret_cast<const int8_t*>(run + static_cast<size_t>(block_size_) * 4));
      }
    };
    // Keys are stored dimension-major (WriteI8), so the scores of a block need no horizontal sums.
    for_each_block(0, [&](int p0, int n, const int8_t* codes) {
      for (int k = 0; k < m; ++k)
        block_scores[static_cast<size_t>(k)] = scores[static_cast<size_t>(k)] + p0;
      ops.key_scores_q8(codes, block_size_, block_scales.data(), n, head_dim, query_codes.data(),
                        query_scales.data(), m, inv_sqrt_d, block_scores.data());
    });
    // Query i sees positions [0, first_pos + i]: later positions of the run get weight 0.
    for (int i = 0; i < n_queries; ++i) {
      for (int g = 0; g < n_q; ++g) {
        const auto k = static_cast<size_t>(i * n_q + g);
        kernels::Softmax(scores[k], first_pos + i + 1);
        std::fill(scores[k] + first_pos + i + 1, scores[k] + n_pos, 0.0f);
        std::memset(outputs[k], 0, sizeof(float) * static_cast<size_t>(head_dim));
      }
    }
    for_each_block(1, [&](int p0, int n, const int8_t* codes) {
      for (int k = 0; k < m; ++k)
        weights[static_cast<size_t>(k)] = scores[static_cast<size_t>(k)] + p0;
      ops.value_sum_q8(codes, block_scales.data(), n, head_dim, weights.data(), m, outputs.data());
    });
  }
}

int PagedKvCache::AssignCachedPrefix(int slot, std::span<const int32_t> tokens) {
  auto& table = tables_.at(static_cast<size_t>(slot));
  auto& hashes = hashes_.at(static_cast<size_t>(slot));
  if (!table.empty()) throw std::logic_error("AssignCachedPrefix on a slot that holds blocks");
  const int n_full = tokens.empty() ? 0 : static_cast<int>((tokens.size() - 1) / static_cast<size_t>(block_size_));
  uint64_t parent = 0;
  for (int b = 0; b < n_full; ++b) {
    const auto block_tokens = tokens.subspan(static_cast<size_t>(b) * block_size_, static_cast<size_t>(block_size_));
    ++prefix_queries_;
    const auto found = pool_.FindCached(parent, block_tokens);
    if (!found) break;
    ++prefix_hits_;
    table.push_back(*found);
    parent = BlockPool::ChainHash(parent, block_tokens);
    hashes.push_back(parent);
  }
  return static_cast<int>(table.size()) * block_size_;
}

int PagedKvCache::BlocksNeeded(int slot, int n_tokens) const {
  const int have = static_cast<int>(tables_.at(static_cast<size_t>(slot)).size());
  const int want = (n_tokens + block_size_ - 1) / block_size_;
  return std::max(0, want - have);
}

bool PagedKvCache::Reserve(int slot, int n_tokens) {
  if (n_tokens > max_ctx_) return false;
  const int needed = BlocksNeeded(slot, n_tokens);
  if (needed > pool_.n_available()) return false;
  auto& table = tables_.at(static_cast<size_t>(slot));
  for (int k = 0; k < needed; ++k)
    table.push_back(*pool_.Allocate(table.empty() ? -1 : table.back()));
  return true;
}

void PagedKvCache::CommitFullBlocks(int slot, std::span<const int32_t> tokens, int n_computed) {
  const auto& table = tables_.at(static_cast<size_t>(slot));
  auto& hashes = hashes_.at(static_cast<size_t>(slot));
  const size_t n_full = std::min(table.size(), static_cast<size_t>(n_computed / block_size_));
  for (size_t b = hashes.size(); b < n_full; ++b) {
    const uint64_t parent = b == 0 ? 0 : hashes[b - 1];
    const auto block_tokens = tokens.subspan(b * static_cast<size_t>(block_size_), static_cast<size_t>(block_size_));
    pool_.SetHash(table[b], parent, block_tokens);
    hashes.push_back(BlockPool::ChainHash(parent, block_tokens));
  }
}

void PagedKvCache::Release(int slot) {
  auto& table = tables_.at(static_cast<size_t>(slot));
  // Release the last blocks first so the LRU evicts a prefix's tail before its head.
  for (auto it = table.rbegin(); it != table.rend(); ++it) pool_.Release(*it);
  table.clear();
  hashes_.at(static_cast<size_t>(slot)).clear();
}

}  // namespace ts::kv
