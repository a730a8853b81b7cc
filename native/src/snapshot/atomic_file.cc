#include "snapshot/atomic_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/unique_fd.h"
#include "snapshot/snapshot_error.h"

namespace nestbox::snapshot {

namespace {

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Removes the temporary file unless release()d (after the rename).
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  void release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

void throw_io_error(const std::string& what, const std::string& path, int error_number) {
  throw SnapshotError(SnapshotProblem::Io, what + " " + path + ": " + std::strerror(error_number));
}

void write_fully(int fd, std::span<const std::uint8_t> bytes, std::uint64_t offset,
                 const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t written = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_io_error("cannot write", path, errno);
    }
    if (written == 0) {
      throw_io_error("cannot write", path, EIO);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
    offset += static_cast<std::uint64_t>(written);
  }
}

void write_file_atomically(const std::string& path,
                           const std::function<void(int fd)>& write_contents) {
  // mkostemp wants a writable template; it creates the file 0600 with O_EXCL.
  std::string name = path + ".tmp-XXXXXX";
  std::vector<char> template_chars(name.begin(), name.end());
  template_chars.push_back('\0');
  UniqueFd fd(::mkostemp(template_chars.data(), O_CLOEXEC));
  if (!fd.valid()) {
    throw_io_error("cannot create a temporary file for", path, errno);
  }
  name.assign(template_chars.data());
  TemporaryFile temporary(name);

  write_contents(fd.get());
  if (::fsync(fd.get()) != 0) {
    throw_io_error("cannot sync", name, errno);
  }
  // fsync has reported any write error, so close's own result adds nothing.
  fd.reset();
  if (::rename(name.c_str(), path.c_str()) != 0) {
    throw_io_error("cannot rename the finished file to", path, errno);
  }
  temporary.release();
  // Make the rename itself durable.
  const std::string directory = directory_of(path);
  UniqueFd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) {
    ::fsync(dir.get());
  }
}

}  // namespace nestbox::snapshot
