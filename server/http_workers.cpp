#include "server/http_workers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

namespace ts::server {

HttpWorkers::HttpWorkers(size_t base, size_t cap, std::chrono::milliseconds idle_exit)
    : base_(std::max<size_t>(base, 1)), cap_(std::max(cap, base_)), idle_exit_(idle_exit) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < base_; ++i) StartThread();
}

HttpWorkers::~HttpWorkers() { shutdown(); }

void HttpWorkers::StartThread() {
  threads_.emplace_back([this] { Work(); });  // it waits for mutex_, held by our caller
  ++live_;
  ++idle_;  // it will take a job as soon as it runs
}

void HttpWorkers::JoinExited() {
  for (const std::thread::id id : exited_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [id](const std::thread& t) { return t.get_id() == id; });
    // It recorded itself as its last step under the lock, so this join is short.
    it->join();
    threads_.erase(it);
  }
  exited_.clear();
}

void HttpWorkers::enqueue(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    JoinExited();
    jobs_.push_back(std::move(fn));
    // Every queued job beyond the idle threads would wait for a busy one to finish.
    if (jobs_.size() > idle_ && live_ < cap_ && !stopping_) {
      try {
        StartThread();
      } catch (const std::system_error& e) {  // e.g. a container's process limit
        spdlog::warn("http: cannot start another worker thread ({}); the connection waits",
                     e.what());
      }
    }
  }
  work_ready_.notify_one();
}

void HttpWorkers::shutdown() {
  std::vector<std::thread> threads;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    work_ready_.notify_all();
    all_gone_.wait(lock, [this] { return live_ == 0; });  // the jobs queued have run
    threads.swap(threads_);
    exited_.clear();
  }
  for (std::thread& t : threads) t.join();
}

size_t HttpWorkers::threads() const {
  std::lock_guard lock(mutex_);
  return live_;
}

void HttpWorkers::Work() {
  std::unique_lock lock(mutex_);
  for (;;) {  // idle_ counts this thread here (StartThread counted it before it ran)
    const bool woken =
        work_ready_.wait_for(lock, idle_exit_, [this] { return stopping_ || !jobs_.empty(); });
    if (!woken) {
      if (live_ > base_) {
        --idle_;
        --live_;
        exited_.push_back(std::this_thread::get_id());
        return;
      }
      continue;
    }
    --idle_;
    if (jobs_.empty()) {  // stopping, and nothing left to run
      if (--live_ == 0) all_gone_.notify_all();
      return;
    }
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
    ++idle_;
  }
}

}  // namespace ts::server
