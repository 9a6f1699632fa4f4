#include "kernels/host_limits.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unistd.h>

#include <fstream>
#include <string>

#include "kernels/thread_pool.h"

namespace ts::kernels {
namespace {

namespace fs = std::filesystem;

// A fake /proc and /sys/fs/cgroup under a temporary directory.
class FakeRoot {
 public:
  FakeRoot() : root_(fs::temp_directory_path() / ("ts_cgroup_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))) {
    fs::remove_all(root_);
  }
  ~FakeRoot() { fs::remove_all(root_); }
  FakeRoot(const FakeRoot&) = delete;
  FakeRoot& operator=(const FakeRoot&) = delete;

  void Write(const std::string& path, const std::string& text) {
    const fs::path file = root_ / path.substr(1);
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
  }
  std::string str() const { return root_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

TEST(CgroupLimits, NoFilesMeansNoLimits) {
  FakeRoot root;
  const CgroupLimits limits = ReadCgroupLimits(root.str());
  EXPECT_FALSE(limits.cpu_quota.has_value());
  EXPECT_FALSE(limits.memory_available.has_value());
}

TEST(CgroupLimits, V2TightestAncestorWins) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "0::/kubepods/pod1/app\n");
  root.Write("/sys/fs/cgroup/kubepods/pod1/app/cpu.max", "max 100000\n");
  root.Write("/sys/fs/cgroup/kubepods/pod1/cpu.max", "150000 100000\n");  // 1.5 CPUs
  root.Write("/sys/fs/cgroup/kubepods/cpu.max", "400000 100000\n");
  root.Write("/sys/fs/cgroup/kubepods/pod1/app/memory.max", "4294967296\n");
  root.Write("/sys/fs/cgroup/kubepods/pod1/app/memory.current", "1073741824\n");
  root.Write("/sys/fs/cgroup/kubepods/memory.max", "max\n");
  const CgroupLimits limits = ReadCgroupLimits(root.str());
  ASSERT_TRUE(limits.cpu_quota.has_value());
  EXPECT_DOUBLE_EQ(*limits.cpu_quota, 1.5);
  ASSERT_TRUE(limits.memory_available.has_value());
  EXPECT_EQ(*limits.memory_available, uint64_t{3} << 30);
}

TEST(CgroupLimits, V2NamespaceRootAndUnlimited) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "0::/\n");
  root.Write("/sys/fs/cgroup/cpu.max", "max 100000\n");
  root.Write("/sys/fs/cgroup/memory.max", "max\n");
  const CgroupLimits limits = ReadCgroupLimits(root.str());
  EXPECT_FALSE(limits.cpu_quota.has_value());
  EXPECT_FALSE(limits.memory_available.has_value());
}

TEST(CgroupLimits, V1CombinedControllersAndUsageOverLimit) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n2:pids:/docker/abc\n");
  root.Write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
  root.Write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  root.Write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  root.Write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  root.Write("/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "1000\n");
  root.Write("/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "2000\n");
  root.Write("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");  // none
  const CgroupLimits limits = ReadCgroupLimits(root.str());
  ASSERT_TRUE(limits.cpu_quota.has_value());
  EXPECT_DOUBLE_EQ(*limits.cpu_quota, 2.0);
  ASSERT_TRUE(limits.memory_available.has_value());
  EXPECT_EQ(*limits.memory_available, 0u);
}

TEST(CgroupLimits, GarbageIsIgnored) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "garbage\n0::/x\n");
  root.Write("/sys/fs/cgroup/x/cpu.max", "lots 0\n");
  root.Write("/sys/fs/cgroup/x/memory.max", "99999999999999999999999\n");  // overflows uint64
  const CgroupLimits limits = ReadCgroupLimits(root.str());
  EXPECT_FALSE(limits.cpu_quota.has_value());
  EXPECT_FALSE(limits.memory_available.has_value());
}

TEST(CgroupLimits, DefaultThreadCountStaysInsideThisProcessQuota) {
  const CgroupLimits limits = ReadCgroupLimits();
  if (!limits.cpu_quota.has_value()) GTEST_SKIP() << "no CPU quota on this machine";
  EXPECT_LE(DefaultThreadCount(), std::max(1, static_cast<int>(std::ceil(*limits.cpu_quota))));
}

}  // namespace
}  // namespace ts::kernels
