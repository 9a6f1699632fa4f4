// The CPU and memory limits of the cgroups this process runs in (a container's --cpus and
// --memory, a Kubernetes pod's limits, a systemd slice): what sched_getaffinity and
// /proc/meminfo do not show. Used for the default thread count and the automatic KV budget.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ts::kernels {

struct CgroupLimits {
  // CPUs' worth of time per period the tightest CPU quota allows (cpu.max, or v1's
  // cfs_quota_us / cfs_period_us); empty without a quota.
  std::optional<double> cpu_quota;
  // Bytes the tightest memory limit still allows (limit - usage); empty without a limit.
  std::optional<uint64_t> memory_available;
};

// Reads the limits of this process's cgroups (v2 and v1) and of their ancestors, the tightest
// of each kind. `root` prefixes /proc and /sys (tests build a fake tree); unreadable or absent
// files mean no limit.
CgroupLimits ReadCgroupLimits(const std::string& root = "");

}  // namespace ts::kernels
