// JSON output (`response_format` `json_object` or `json_schema`): the generated text is held
// to a prefix of one JSON object that fits the schema, token by token, and the sequence ends
// when the object closes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sample/json_prefix.h"
#include "engine/sample/sampler.h"

namespace ts::sample {

// The bytes each token adds to the text, one entry per vocabulary id; empty for tokens that
// may never appear in JSON output (special and end-of-generation tokens). Shared by every
// constrained sequence of a model.
using TokenPieces = std::vector<std::string>;

class JsonConstraint : public TokenConstraint {
 public:
  // An object fitting schema (JSON mode: JsonSchema::AnyObject()).
  JsonConstraint(std::shared_ptr<const TokenPieces> pieces,
                 std::shared_ptr<const JsonSchema> schema);

  bool Allows(int32_t id) const override;
  // Appends the chosen token's bytes; returns false (nothing changes) if it is not allowed.
  bool Accept(int32_t id);
  // Appends text chosen without the constraint; returns false (nothing changes) if it does not
  // fit.
  bool AcceptText(std::string_view text) { return prefix_.Feed(text); }
  // True once the object is closed.
  bool complete() const { return prefix_.complete(); }

 private:
  // Returns the bytes of token `id`, or null for ids out of range and empty pieces (never
  // allowed).
  const std::string* Piece(int32_t id) const;

  std::shared_ptr<const TokenPieces> pieces_;
  JsonPrefix prefix_;
};

}  // namespace ts::sample
