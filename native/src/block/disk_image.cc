#include "block/disk_image.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "block/image_file.h"
#include "block/qcow2_format.h"
#include "block/qcow2_image.h"
#include "block/raw_image.h"

namespace nestbox::block {

namespace {

// Far deeper than any real snapshot chain, low enough to stay within fd limits.
constexpr int kMaxChainDepth = 256;

using FileIdentity = std::pair<dev_t, ino_t>;

ImageFormat probe(const ImageFile& file) {
  std::uint8_t magic[4] = {};
  if (file.read_some(0, magic) == sizeof magic && qcow2::load_be32(magic) == qcow2::kMagic) {
    return ImageFormat::Qcow2;
  }
  return ImageFormat::Raw;
}

std::unique_ptr<DiskImage> open_chain(const std::string& path, bool read_only, const std::string& format_name,
                                      std::set<FileIdentity>& seen, int depth, const std::string& named_by) {
  if (depth > kMaxChainDepth) {
    throw DiskImageError(DiskImageErrorCode::BackingChain,
                         path + ": backing chain deeper than " + std::to_string(kMaxChainDepth) + " images");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (!named_by.empty()) {
      throw DiskImageError(error == ENOENT ? DiskImageErrorCode::NotFound : DiskImageErrorCode::Unreadable,
                           named_by + ": backing file " + path +
                               (error == ENOENT ? " does not exist" : " cannot be opened (" + std::string(std::strerror(error)) + ")"));
    }
    throw DiskImageError(error == ENOENT ? DiskImageErrorCode::NotFound : DiskImageErrorCode::Unreadable,
                         os_error_message(path, "cannot open", error));
  }
  if (!seen.insert({st.st_dev, st.st_ino}).second) {
    throw DiskImageError(DiskImageErrorCode::BackingChain,
                         named_by + ": backing chain loop: " + path + " is already in the chain");
  }

  ImageFormat format;
  if (format_name == "qcow2") {
    format = ImageFormat::Qcow2;
  } else if (format_name == "raw") {
    format = ImageFormat::Raw;
  } else if (format_name.empty()) {
    format = probe(ImageFile::open(path, true));
  } else {
    throw DiskImageError(DiskImageErrorCode::Unsupported,
                         named_by + ": backing file " + path + " has format \"" + format_name +
                             "\"; only qcow2 and raw are supported");
  }

  const OpenOptions options{.read_only = read_only};
  if (format == ImageFormat::Raw) return RawImage::open(path, options);
  return Qcow2Image::open(path, options, [&](const std::string& backing_path, const std::string& backing_format) {
    return open_chain(backing_path, true, backing_format, seen, depth + 1, path);
  });
}

}  // namespace

std::unique_ptr<DiskImage> open_disk_image(const std::string& path, const OpenOptions& options) {
  std::set<FileIdentity> seen;
  return open_chain(path, options.read_only, "", seen, 0, "");
}

ImageFormat probe_image_format(const std::string& path) { return probe(ImageFile::open(path, true)); }

}  // namespace nestbox::block
