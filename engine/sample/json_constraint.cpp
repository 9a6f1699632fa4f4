#include "engine/sample/json_constraint.h"

#include <utility>

namespace ts::sample {

JsonConstraint::JsonConstraint(std::shared_ptr<const TokenPieces> pieces,
                               std::shared_ptr<const JsonSchema> schema)
    : pieces_(std::move(pieces)), prefix_(std::move(schema)) {}

const std::string* JsonConstraint::Piece(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_->size()) return nullptr;
  const std::string& piece = (*pieces_)[static_cast<size_t>(id)];
  // An empty piece would leave the text unchanged and could repeat forever.
  return piece.empty() ? nullptr : &piece;
}

bool JsonConstraint::Allows(int32_t id) const {
  const std::string* piece = Piece(id);
  return piece != nullptr && prefix_.CanFeed(*piece);
}

bool JsonConstraint::Accept(int32_t id) {
  const std::string* piece = Piece(id);
  return piece != nullptr && prefix_.Feed(*piece);  // Feed checks and appends in one pass
}

}  // namespace ts::sample
