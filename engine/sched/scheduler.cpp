#include "engine/sched/scheduler.h"

#include <algorithm>
#include <stdexcept>

namespace ts::sched {

Scheduler::Scheduler(const SchedulerConfig& config, kv::PagedKvCache* kv)
    : config_(config), kv_(kv), slot_used_(static_cast<size_t>(kv->n_slots()), false) {
  if (config_.max_running > kv->n_slots()) throw std::invalid_argument("more running sequences than KV slots");
  config_.token_budget = std::max(config_.token_budget, config_.max_running);  // decodes always fit
}

void Scheduler::Add(Sequence* seq) { waiting_.push_back(seq); }

int Scheduler::FreeSlot() const {
  for (size_t s = 0; s < slot_used_.size(); ++s) {
    if (!slot_used_[s]) return static_cast<int>(s);
  }
  return -1;
}

bool Scheduler::WaitsForSharedPrefix(const Sequence& seq) const {
  const int block = kv_->block_size();
  // The prefix cache can give seq at most the full blocks of tokens[0, n - 1).
  const size_t reusable = seq.tokens.empty() ? 0 : seq.tokens.size() - 1;
  for (const Sequence* other : running_) {
    const size_t limit = std::min(reusable, other->tokens.size());
    const auto end = seq.tokens.begin() + static_cast<std::ptrdiff_t>(limit);
    const auto shared =
        std::mismatch(seq.tokens.begin(), end, other->tokens.begin()).first - seq.tokens.begin();
    const int shared_in_blocks = static_cast<int>(shared) / block * block;
    if (shared_in_blocks > other->n_computed) return true;
  }
  return false;
}

void Scheduler::Preempt(Sequence* seq) {
  kv_->Release(seq->slot);
  slot_used_[static_cast<size_t>(seq->slot)] = false;
  seq->slot = -1;
  seq->n_computed = 0;  // recompute (the prefix cache usually gives most of it back)
  running_.erase(std::find(running_.begin(), running_.end(), seq));
  waiting_.push_front(seq);
  ++n_preemptions_;
}

SchedulerOutput Scheduler::Schedule() {
  SchedulerOutput out;
  int budget = config_.token_budget;

  // Running sequences first, oldest first: their decode tokens (or prompt chunks).
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Sequence* seq = running_[i];
    const int n = std::min(seq->n_uncomputed(), budget);
    if (n <= 0) {
      ++i;
      continue;
    }
    bool preempted_self = false;
    while (!kv_->Reserve(seq->slot, seq->n_computed + n)) {
      Sequence* victim = running_.back();  // the newest
      Preempt(victim);
      out.preempted.push_back(victim);
      if (victim == seq) {
        preempted_self = true;
        break;
      }
    }
    if (preempted_self) break;  // nothing newer left to free: the rest waits
    out.chunks.push_back({seq, seq->n_computed, n, seq->n_computed + n == static_cast<int>(seq->tokens.size())});
    budget -= n;
    ++i;
  }

  // Then waiting sequences, FCFS: a head that does not fit blocks the ones behind it.
  while (!waiting_.empty() && budget > 0 && static_cast<int>(running_.size()) < config_.max_running &&
         out.preempted.empty()) {
    Sequence* seq = waiting_.front();
    if (WaitsForSharedPrefix(*seq)) break;
    const int slot = FreeSlot();
    if (slot < 0) break;
    const int cached = kv_->AssignCachedPrefix(slot, seq->tokens);
    seq->n_computed = cached;
    const int n = std::min(seq->n_uncomputed(), budget);
    if (!kv_->Reserve(slot, seq->n_computed + n)) {
      kv_->Release(slot);
      seq->n_computed = 0;
      break;
    }
    if (!seq->admitted_once) {
      seq->n_cached_prompt = std::min(cached, seq->n_prompt);
      seq->admitted_once = true;
    }
    waiting_.pop_front();
    seq->slot = slot;
    slot_used_[static_cast<size_t>(slot)] = true;
    running_.push_back(seq);
    out.chunks.push_back({seq, seq->n_computed, n, seq->n_computed + n == static_cast<int>(seq->tokens.size())});
    budget -= n;
  }
  out.n_tokens = config_.token_budget - budget;
  return out;
}

void Scheduler::Advance(const SchedulerOutput& plan) {
  for (const auto& chunk : plan.chunks) {
    Sequence* seq = chunk.seq;
    seq->n_computed = chunk.begin + chunk.n_tokens;
    kv_->CommitFullBlocks(seq->slot, seq->tokens, seq->n_computed);
  }
}

void Scheduler::Remove(Sequence* seq) {
  if (auto it = std::find(running_.begin(), running_.end(), seq); it != running_.end()) {
    kv_->Release(seq->slot);
    slot_used_[static_cast<size_t>(seq->slot)] = false;
    seq->slot = -1;
    running_.erase(it);
  }
  if (auto it = std::find(waiting_.begin(), waiting_.end(), seq); it != waiting_.end()) waiting_.erase(it);
}

}  // namespace ts::sched
