// Iteration-level (continuous) batching. Each Schedule() builds one step:
// a decode token for every running sequence, then prompt chunks (running
// sequences still prefilling first, then waiting ones FCFS) up to a token budget
// and a sequence cap, each admitted only when the KV cache has blocks for it.
// When blocks run out, the newest running sequence is preempted (its blocks are
// freed; it goes back to the front of the queue and is recomputed later). A waiting
// sequence whose prompt shares full blocks with one still being prefilled waits for
// them to land in the prefix cache rather than computing them again.
//
// The loop:  plan = Schedule();  logits = runner(plan);  engine samples, then
// Advance(plan) records what was computed. The scheduler never touches logits.
#pragma once

#include <deque>
#include <vector>

#include "engine/kv/paged_kv_cache.h"
#include "engine/sched/sequence.h"

namespace ts::sched {

struct ScheduledChunk {
  Sequence* seq = nullptr;
  int begin = 0;        // first position computed this step
  int n_tokens = 0;     // positions [begin, begin + n_tokens)
  bool sample = false;  // the chunk reaches the last known token: sample the next one
};

struct SchedulerOutput {
  std::vector<ScheduledChunk> chunks;
  std::vector<Sequence*> preempted;  // this step (already back in the waiting queue)
  int n_tokens = 0;
  bool empty() const { return chunks.empty(); }
};

struct SchedulerConfig {
  int max_running = 16;   // --parallel
  int token_budget = 64;  // --batch-tokens
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, kv::PagedKvCache* kv);

  void Add(Sequence* seq);                 // to the back of the waiting queue
  SchedulerOutput Schedule();
  // Records that the plan's chunks are in the KV cache (call after the forward pass).
  void Advance(const SchedulerOutput& plan);
  // Removes a sequence (finished or cancelled), releasing its blocks.
  void Remove(Sequence* seq);

  const std::deque<Sequence*>& waiting() const { return waiting_; }
  const std::vector<Sequence*>& running() const { return running_; }
  uint64_t n_preemptions() const { return n_preemptions_; }

 private:
  void Preempt(Sequence* seq);
  int FreeSlot() const;
  // True while a running sequence still has to compute full blocks of a prefix it shares with
  // seq (the n choices of one request, one system prompt for many users). Admitted later, seq
  // finds those blocks in the prefix cache instead of computing them a second time.
  bool WaitsForSharedPrefix(const Sequence& seq) const;

  SchedulerConfig config_;
  kv::PagedKvCache* kv_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;   // admission order: oldest first
  std::vector<bool> slot_used_;
  uint64_t n_preemptions_ = 0;
};

}  // namespace ts::sched
