// HttpWorkers: grows while every worker is busy, up to its cap; extra threads leave when idle;
// shutdown runs what was queued.
#include "server/http_workers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace ts::server {
namespace {

using namespace std::chrono_literals;

// Jobs that block until Release(); counts how many have started and finished.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> started{0}, finished{0};

  std::function<void()> Job() {
    return [this] {
      ++started;
      std::unique_lock lock(mutex);
      cv.wait(lock, [this] { return open; });
      ++finished;
    };
  }
  void Release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

// Polls `done` for up to 5 s.
template <class Fn>
bool Eventually(Fn done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST(HttpWorkers, GrowsWhileAllAreBusyThenShrinksToBase) {
  HttpWorkers workers(2, 16, 50ms);
  EXPECT_EQ(workers.threads(), 2u);
  Gate gate;
  for (int i = 0; i < 6; ++i) workers.enqueue(gate.Job());
  EXPECT_TRUE(Eventually([&] { return gate.started == 6; }));  // none waits for another
  EXPECT_EQ(workers.threads(), 6u);
  gate.Release();
  EXPECT_TRUE(Eventually([&] { return gate.finished == 6; }));
  EXPECT_TRUE(Eventually([&] { return workers.threads() == 2u; }));
  // Idle workers are reused: a job now needs no new thread.
  Gate again;
  workers.enqueue(again.Job());
  EXPECT_TRUE(Eventually([&] { return again.started == 1; }));
  EXPECT_EQ(workers.threads(), 2u);
  again.Release();
}

TEST(HttpWorkers, CapLimitsThreadsAndTheRestWait) {
  HttpWorkers workers(1, 3, 50ms);
  Gate gate;
  for (int i = 0; i < 5; ++i) workers.enqueue(gate.Job());
  EXPECT_TRUE(Eventually([&] { return gate.started == 3; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gate.started, 3);
  EXPECT_EQ(workers.threads(), 3u);
  gate.Release();
  EXPECT_TRUE(Eventually([&] { return gate.finished == 5; }));
}

TEST(HttpWorkers, ShutdownRunsQueuedJobsAndJoins) {
  auto workers = std::make_unique<HttpWorkers>(1, 1, 1000ms);
  Gate gate;
  std::atomic<int> ran{0};
  workers->enqueue(gate.Job());
  for (int i = 0; i < 3; ++i) workers->enqueue([&] { ++ran; });
  std::thread stopper([&] { workers->shutdown(); });
  EXPECT_TRUE(Eventually([&] { return gate.started == 1; }));
  gate.Release();
  stopper.join();
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(workers->threads(), 0u);
  workers->shutdown();  // idempotent
  workers.reset();
}

}  // namespace
}  // namespace ts::server
