// Helpers shared by the snapshot_*_test.cc files.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "snapshot/snapshot_error.h"

namespace nestbox::test {

struct SnapshotTempDir {
  std::string path;
  SnapshotTempDir() {
    const char* base = ::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/nestbox-snapshot-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~SnapshotTempDir() { std::filesystem::remove_all(path); }
  SnapshotTempDir(const SnapshotTempDir&) = delete;
  SnapshotTempDir& operator=(const SnapshotTempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return path + "/" + name; }
};

struct CaughtSnapshotError {
  snapshot::SnapshotProblem problem;
  std::string message;
};

// Runs `action`, which must throw a SnapshotError, and returns what it threw.
template <typename Action>
CaughtSnapshotError expect_snapshot_error(Action&& action) {
  try {
    action();
  } catch (const snapshot::SnapshotError& error) {
    return {error.problem(), error.what()};
  }
  FAIL("expected a SnapshotError");
  return {snapshot::SnapshotProblem::Io, ""};
}

}  // namespace nestbox::test
