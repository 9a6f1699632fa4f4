#include "engine/sample/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace ts::sample {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  stops_.erase(std::remove(stops_.begin(), stops_.end(), std::string()), stops_.end());
}

std::string StopMatcher::Push(const std::string& text) {
  if (stopped_) return "";
  pending_ += text;
  if (stops_.empty()) return std::exchange(pending_, "");
  // Earliest complete match wins.
  size_t match = std::string::npos;
  for (const auto& stop : stops_) match = std::min(match, pending_.find(stop));
  if (match != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, match);
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& stop : stops_) {
    for (size_t n = std::min(stop.size() - 1, pending_.size()); n > hold; --n) {
      if (pending_.compare(pending_.size() - n, n, stop, 0, n) == 0) {
        hold = n;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::Flush() {
  if (stopped_) return "";
  return std::exchange(pending_, "");
}

}  // namespace ts::sample
