// Why a snapshot could not be written or read back. Every refusal of a state
// or RAM file is a SnapshotError whose message names the file and, where it
// applies, the section, so the UI can show it as is.
#pragma once

#include <string>
#include <string_view>

#include "common/nestbox_error.h"

namespace nestbox::snapshot {

enum class SnapshotProblem {
  Io,                  // the file could not be created, read, written or synced
  NotASnapshot,        // wrong magic: some other file
  NewerFormat,         // written by a newer Nestbox than this one
  OlderFormat,         // written by an older Nestbox in a format no longer read
  Truncated,           // the file ends early (an interrupted write)
  BadChecksum,         // a section's bytes changed after it was written
  DuplicateSection,    // a section appears twice
  MissingSection,      // a required section is absent
  UnsupportedSection,  // a known section in a version this Nestbox cannot read
  Malformed,           // a section's contents are inconsistent
  Mismatch,            // valid, but does not fit this machine (RAM size, vCPU count)
};

constexpr std::string_view snapshot_problem_name(SnapshotProblem problem) {
  switch (problem) {
    case SnapshotProblem::Io: return "io";
    case SnapshotProblem::NotASnapshot: return "not-a-snapshot";
    case SnapshotProblem::NewerFormat: return "newer-format";
    case SnapshotProblem::OlderFormat: return "older-format";
    case SnapshotProblem::Truncated: return "truncated";
    case SnapshotProblem::BadChecksum: return "bad-checksum";
    case SnapshotProblem::DuplicateSection: return "duplicate-section";
    case SnapshotProblem::MissingSection: return "missing-section";
    case SnapshotProblem::UnsupportedSection: return "unsupported-section";
    case SnapshotProblem::Malformed: return "malformed";
    case SnapshotProblem::Mismatch: return "mismatch";
  }
  return "malformed";
}

// ErrorCode has no snapshot entry yet (common/ is not this layer's to
// change); InvalidState is the closest ("cannot do that with this snapshot").
// `problem()` is the precise reason.
class SnapshotError : public NestboxError {
 public:
  SnapshotError(SnapshotProblem problem, const std::string& message)
      : NestboxError(ErrorCode::InvalidState, message), problem_(problem) {}

  [[nodiscard]] SnapshotProblem problem() const { return problem_; }

 private:
  SnapshotProblem problem_;
};

}  // namespace nestbox::snapshot
