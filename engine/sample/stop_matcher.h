// Stop strings matched across token boundaries. Text is held back while it could
// still be the start of a stop string, so no part of a stop string is ever emitted
// (even in a stream); once matched, everything from the match on is dropped.
#pragma once

#include <string>
#include <vector>

namespace ts::sample {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds newly decoded text; returns the text that is now safe to emit.
  // After a match, stopped() is true and later calls return "".
  std::string Push(const std::string& text);
  // Returns whatever is still held back (generation ended for another reason).
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace ts::sample
