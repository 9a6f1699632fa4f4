#include "kernels/host_limits.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace ts::kernels {
namespace {

// v1 reports "no memory limit" as a page-rounded 2^63 - 1; anything this large is no limit.
constexpr uint64_t kNoMemoryLimit = uint64_t{1} << 62;

// Returns the cgroup path and its ancestors, innermost first: "/a/b", "/a", "/".
std::vector<std::string> SelfAndAncestors(std::string path) {
  std::vector<std::string> out;
  while (!path.empty() && path != "/") {
    out.push_back(path);
    path.resize(path.find_last_of('/'));
  }
  out.push_back("/");
  return out;
}

// Reads whitespace-separated fields of the first line of a file; empty if unreadable.
std::vector<std::string> ReadFields(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line)) return {};
  std::istringstream fields(line);
  std::vector<std::string> out;
  for (std::string f; fields >> f;) out.push_back(f);
  return out;
}

std::optional<uint64_t> ParseCount(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;  // out of range
  }
}

void TakeMin(std::optional<double>* current, double value) {
  if (!current->has_value() || value < **current) *current = value;
}
void TakeMin(std::optional<uint64_t>* current, uint64_t value) {
  if (!current->has_value() || value < **current) *current = value;
}

void ReadCpuV2(const std::string& dir, CgroupLimits* limits) {
  const std::vector<std::string> f = ReadFields(dir + "/cpu.max");  // "max 100000" | "Q P"
  if (f.size() != 2) return;
  const auto quota = ParseCount(f[0]), period = ParseCount(f[1]);
  if (quota && period && *period > 0) {
    TakeMin(&limits->cpu_quota, static_cast<double>(*quota) / static_cast<double>(*period));
  }
}

void ReadMemory(const std::string& limit_file, const std::string& usage_file, CgroupLimits* limits) {
  const std::vector<std::string> limit = ReadFields(limit_file);  // "max" or bytes
  if (limit.size() != 1) return;
  const auto bytes = ParseCount(limit[0]);
  if (!bytes || *bytes >= kNoMemoryLimit) return;
  const std::vector<std::string> usage = ReadFields(usage_file);
  const auto used = usage.size() == 1 ? ParseCount(usage[0]) : std::nullopt;
  uint64_t left = *bytes;
  if (used.has_value()) left = *used < *bytes ? *bytes - *used : 0;
  TakeMin(&limits->memory_available, left);
}

void ReadCpuV1(const std::string& dir, CgroupLimits* limits) {
  const std::vector<std::string> quota = ReadFields(dir + "/cpu.cfs_quota_us");  // -1: none
  const std::vector<std::string> period = ReadFields(dir + "/cpu.cfs_period_us");
  if (quota.size() != 1 || period.size() != 1) return;
  const auto q = ParseCount(quota[0]), p = ParseCount(period[0]);
  if (q && p && *p > 0) TakeMin(&limits->cpu_quota, static_cast<double>(*q) / static_cast<double>(*p));
}

}  // namespace

CgroupLimits ReadCgroupLimits(const std::string& root) {
  CgroupLimits limits;
  const std::string sys = root + "/sys/fs/cgroup";
  std::ifstream self(root + "/proc/self/cgroup");
  // Lines "id:controllers:path"; v2 is "0::path". Inside a cgroup namespace the path is "/" and
  // the files sit at the mount's top, which the ancestor walk reaches last.
  for (std::string line; std::getline(self, line);) {
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::vector<std::string> paths = SelfAndAncestors(line.substr(second + 1));
    if (controllers.empty()) {
      for (const std::string& p : paths) {
        const std::string dir = sys + (p == "/" ? "" : p);
        ReadCpuV2(dir, &limits);
        ReadMemory(dir + "/memory.max", dir + "/memory.current", &limits);
      }
      continue;
    }
    std::vector<std::string> names;
    std::istringstream list(controllers);
    for (std::string name; std::getline(list, name, ',');) names.push_back(name);
    const auto has = [&](const char* name) { return std::find(names.begin(), names.end(), name) != names.end(); };
    for (const std::string& p : paths) {
      const std::string dir = sys + "/" + controllers + (p == "/" ? "" : p);
      if (has("cpu")) ReadCpuV1(dir, &limits);
      if (has("memory")) ReadMemory(dir + "/memory.limit_in_bytes", dir + "/memory.usage_in_bytes", &limits);
    }
  }
  return limits;
}

}  // namespace ts::kernels
