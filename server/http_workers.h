// The HTTP server's worker threads: a pool that grows when every worker is busy.
//
// cpp-httplib 0.11 runs each connection on one worker from accept to close, blocked in
// reads between requests. With a fixed pool, clients that send half a request and wait
// (slow links, or an attack) hold every worker, and the next request — a Kubernetes
// liveness probe on /health, a request that should get a quick 503 — waits in the
// queue for up to the read timeout. This pool starts a thread whenever a connection
// arrives with no idle worker, up to a cap, and lets the extra threads go after they
// have been idle for a while.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <httplib.h>
#include <mutex>
#include <thread>
#include <vector>

namespace ts::server {

class HttpWorkers : public httplib::TaskQueue {
 public:
  // Keeps `base` threads; grows to `cap` (>= base) while connections wait for one; a thread
  // above `base` exits after `idle_exit` without work.
  HttpWorkers(size_t base, size_t cap, std::chrono::milliseconds idle_exit);
  ~HttpWorkers() override;
  HttpWorkers(const HttpWorkers&) = delete;
  HttpWorkers& operator=(const HttpWorkers&) = delete;

  void enqueue(std::function<void()> fn) override;
  // Runs the jobs already queued, then joins every thread. Idempotent.
  void shutdown() override;

  // Returns the threads alive now.
  size_t threads() const;

 private:
  void Work();
  void StartThread();  // requires mutex_
  void JoinExited();   // requires mutex_

  const size_t base_, cap_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable all_gone_;            // live_ reached 0 while stopping
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;            // every thread not yet joined
  std::vector<std::thread::id> exited_;         // threads that idled out, to be joined
  size_t live_ = 0;                             // threads inside Work()
  size_t idle_ = 0;                             // threads waiting for a job, or starting
  bool stopping_ = false;
};

}  // namespace ts::server
