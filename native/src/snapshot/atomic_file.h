// Writing a file so that a crash, a full disk or an error never leaves a
// half-written file under its final name, and never touches an existing file
// of that name until the new one is complete: write a temporary file in the
// same directory, fsync it, rename it over the target, fsync the directory.
//
// Replacing by rename also matters for RAM files: a VM that maps the old file
// MAP_PRIVATE keeps the old inode, so its not-yet-copied pages never change.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace nestbox::snapshot {

// Calls `write_contents(fd)` on a new temporary file (mode 0600: guest RAM
// and CPU state are the user's secrets) next to `path`, then syncs and
// renames it to `path`. On any exception the temporary file is removed and
// the exception propagates; `path` is untouched.
void write_file_atomically(const std::string& path,
                           const std::function<void(int fd)>& write_contents);

// pwrite() until all of `bytes` is at `offset`; throws SnapshotError (Io)
// naming `path`.
void write_fully(int fd, std::span<const std::uint8_t> bytes, std::uint64_t offset,
                 const std::string& path);

// Throws SnapshotError (Io): "<what> <path>: <strerror(error_number)>".
[[noreturn]] void throw_io_error(const std::string& what, const std::string& path,
                                 int error_number);

}  // namespace nestbox::snapshot
