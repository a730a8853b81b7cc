// Small helpers shared by the unit tests.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "common/nestbox_error.h"

namespace nestbox::test {

struct CaughtError {
  ErrorCode code;
  std::string message;
};

// Runs `action`, which must throw a NestboxError, and returns what it threw.
template <typename Action>
CaughtError expect_error(Action&& action) {
  try {
    action();
  } catch (const NestboxError& error) {
    return {error.code(), error.what()};
  }
  FAIL("expected a NestboxError");
  return {ErrorCode::InvalidConfig, ""};
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace nestbox::test
