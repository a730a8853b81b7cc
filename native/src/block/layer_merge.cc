#include "block/layer_merge.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "block/disk_image.h"
#include "block/image_file.h"
#include "block/qcow2_format.h"
#include "block/qcow2_header.h"
#include "block/qcow2_image.h"
#include "block/raw_image.h"

namespace nestbox::block {

using namespace qcow2;

namespace {

// Copies go in pieces this large, aligned to it: a multiple of every cluster
// size, so pieces meet on cluster boundaries and cancelling is prompt.
constexpr std::uint64_t kCopyChunk = 4u << 20;
constexpr std::uint64_t kProgressStep = 4u << 20;

using FileIdentity = std::pair<dev_t, ino_t>;

std::optional<FileIdentity> identity_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileIdentity{st.st_dev, st.st_ino};
}

// As Qcow2Image resolves the names it stores: relative to the naming image's folder.
std::string resolve_backing_name(const std::string& image_path, const std::string& name) {
  const std::filesystem::path stored(name);
  if (stored.is_absolute()) return name;
  const std::filesystem::path folder = std::filesystem::path(image_path).parent_path();
  return folder.empty() ? name : (folder / stored).string();
}

bool same_folder(const std::string& a, const std::string& b) {
  auto folder = [](const std::string& path) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    return parent.empty() ? std::filesystem::path(".") : parent;
  };
  std::error_code error;
  const bool same = std::filesystem::equivalent(folder(a), folder(b), error);
  return !error && same;
}

void append_extension(std::vector<std::uint8_t>& out, std::uint32_t type, const std::uint8_t* data,
                      std::size_t length) {
  const std::size_t at = out.size();
  out.resize(at + 8 + ((length + 7) & ~std::size_t{7}), 0);
  store_be32(&out[at], type);
  store_be32(&out[at + 4], static_cast<std::uint32_t>(length));
  std::copy_n(data, length, out.begin() + static_cast<std::ptrdiff_t>(at + 8));
}

// The bytes to write at offset 0 of the qcow2 file `file` so that it names
// `name` (format `format`) as its backing file, or none when `name` is empty:
// the fixed header as it is now, the backing-format extension, every other
// extension unchanged, the end marker, the name, then zeroes over whatever the
// old header area used beyond that. Throws if the image may not be changed or
// the result does not fit in the first cluster.
std::vector<std::uint8_t> rebuilt_header_area(const ImageFile& file, const std::string& name,
                                              const std::string& format) {
  const std::string& path = file.path();
  const Qcow2Header header = read_qcow2_header(file);
  if (header.version < 3) {
    throw DiskImageError(DiskImageErrorCode::ReadOnly,
                         path + ": qcow2 version 2 (compat=0.10) images are read-only in Nestbox; "
                                "upgrade it with `qemu-img amend -o compat=1.1 " + path + "`");
  }
  if (header.incompatible_features & kIncompatCorrupt) {
    throw DiskImageError(DiskImageErrorCode::Corrupt,
                         path + ": the image is marked corrupt; repair it with `qemu-img check -r all` first");
  }
  if (header.nb_snapshots > 0) {
    // Internal snapshots read through the backing file too; changing it would change them.
    throw DiskImageError(DiskImageErrorCode::Unsupported,
                         path + ": the image has " + std::to_string(header.nb_snapshots) +
                             " internal snapshot(s); Nestbox does not change its backing file");
  }
  const std::uint64_t cluster_size = header.cluster_size();
  std::vector<std::uint8_t> cluster0(cluster_size, 0);
  file.read_some(0, cluster0);

  std::vector<std::uint8_t> kept;
  const std::uint64_t limit = header.backing_file_offset != 0 ? header.backing_file_offset : cluster_size;
  std::uint64_t at = header.header_length;
  while (at + 8 <= limit) {
    const std::uint32_t type = load_be32(&cluster0[at]);
    const std::uint32_t length = load_be32(&cluster0[at + 4]);
    at += 8;
    if (type == kExtEnd) break;
    if (length > limit - at) {
      throw DiskImageError(DiskImageErrorCode::Corrupt,
                           path + ": corrupt qcow2 image: a header extension runs past the header area");
    }
    if (type != kExtBackingFormat) append_extension(kept, type, &cluster0[at], length);
    at += (std::uint64_t{length} + 7) & ~std::uint64_t{7};
  }
  const std::uint64_t old_end = std::max(std::min(at, limit), header.backing_file_offset + header.backing_file_size);

  std::vector<std::uint8_t> area(cluster0.begin(), cluster0.begin() + header.header_length);
  if (!name.empty()) {
    append_extension(area, kExtBackingFormat, reinterpret_cast<const std::uint8_t*>(format.data()), format.size());
  }
  area.insert(area.end(), kept.begin(), kept.end());
  area.resize(area.size() + 8, 0);  // end of extensions
  const std::uint64_t name_offset = name.empty() ? 0 : area.size();
  area.insert(area.end(), name.begin(), name.end());
  if (area.size() > cluster_size) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         path + ": the backing file name \"" + name + "\" does not fit in the image header (" +
                             std::to_string(area.size()) + " bytes needed, the first cluster holds " +
                             std::to_string(cluster_size) + "); use a shorter path");
  }
  store_be64(&area[kOffBackingFileOffset], name_offset);
  store_be32(&area[kOffBackingFileSize], static_cast<std::uint32_t>(name.size()));
  if (area.size() < old_end) area.resize(old_end, 0);
  return area;
}

// The format `child_path` will name for its new backing file, after checking
// that the chain from there opens and does not lead back to the child.
std::string checked_backing_format(const std::string& child_path, const std::string& backing_file,
                                   const std::string& backing_format) {
  if (!backing_format.empty() && backing_format != "qcow2" && backing_format != "raw") {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         child_path + ": backing format \"" + backing_format + "\" (qcow2 or raw expected)");
  }
  if (backing_file.size() > kMaxBackingFileName) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         child_path + ": backing file name longer than 1023 bytes");
  }
  if (backing_file.find('\0') != std::string::npos) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument, child_path + ": backing file name contains a NUL byte");
  }
  const std::string resolved = resolve_backing_name(child_path, backing_file);
  // Open it as the child will: with the stored format, probing only without one.
  std::unique_ptr<DiskImage> chain = backing_format == "raw" ? RawImage::open(resolved, {.read_only = true})
                                                             : open_disk_image(resolved, {.read_only = true});
  if (backing_format == "qcow2" && chain->format() != ImageFormat::Qcow2) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         child_path + ": the new backing file " + resolved + " is not a qcow2 image");
  }
  const std::optional<FileIdentity> child = identity_of(child_path);
  for (const DiskImage* layer = chain.get(); layer != nullptr; layer = layer->backing()) {
    if (child && identity_of(layer->path()) == child) {
      throw DiskImageError(DiskImageErrorCode::BackingChain,
                           child_path + ": backing chain loop: the new backing chain from " + resolved +
                               " contains the image itself");
    }
  }
  const std::string format = image_format_name(chain->format());
  chain->close();
  return format;
}

Qcow2Image& as_qcow2(DiskImage& image) {
  auto* qcow2 = dynamic_cast<Qcow2Image*>(&image);
  if (qcow2 == nullptr) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument, image.path() + ": not a qcow2 image");
  }
  return *qcow2;
}

}  // namespace

void rebase_backing_file(const std::string& child_path, const std::string& backing_file,
                         const std::string& backing_format) {
  std::string format;
  if (!backing_file.empty()) {
    format = checked_backing_format(child_path, backing_file, backing_format);
  } else if (!backing_format.empty()) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         child_path + ": a backing format (" + backing_format + ") needs a backing file");
  }
  if (probe_image_format(child_path) != ImageFormat::Qcow2) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         child_path + ": a raw image; only qcow2 images have a backing file");
  }
  const ImageFile file = ImageFile::open(child_path, false);
  const std::vector<std::uint8_t> area = rebuilt_header_area(file, backing_file, format);
  // One write of the header area (a few hundred bytes in practice, inside the
  // first file-system block), so the image names either the old backing file
  // with its format or the new one with its format, never a mix. Nothing else
  // in the file changes: cluster 0 holds only the header.
  file.write_all(0, area);
  file.sync_data();
  const Qcow2Header written = read_qcow2_header(file);
  if (written.backing_file != backing_file || written.backing_format != format) {
    throw DiskImageError(DiskImageErrorCode::IoError,
                         child_path + ": the rewritten header does not read back as written");
  }
}

// Crash safety: the child's guest-visible content never changes, so stopping
// at any point (SIGKILL, a power cut, a cancel, an error) leaves a valid child
// that reads as before, and running the merge again finishes the job.
//  * The copy writes only ranges the child does not allocate, and writes there
//    exactly what the child already read through its backing file (the layer),
//    through Qcow2Image, whose write ordering leaves leaked clusters at worst
//    (freed on the next read-write open). A rerun skips what is already filled.
//  * Only once the child is closed (its metadata durable, marked clean) does
//    the backing reference change, in one write of the header area: before it
//    the child reads holes from the layer, after it from the layer's backing
//    file, and the holes left are exactly those where both hold the same.
//  * A rerun after that write finds the child already on the layer's backing
//    file and reports already_merged instead of refusing.
LayerMergeResult merge_layer_into_child(const std::string& layer_path, const std::string& child_path,
                                        const LayerMergeProgress& progress) {
  LayerMergeOptions options;
  options.progress = progress;
  return merge_layer_into_child(layer_path, child_path, options);
}

// Cancelling (LayerMergeOptions::stop) relies on the same property: the stop is taken only
// between ranges and between the (at most 4 MiB) pieces of a copy, never inside a
// Qcow2Image call, and the child's backing reference is still the layer then (the rebase
// comes last, after the copy). Every range the child holds by then it took from the layer,
// where it used to read that very content through its backing file (a piece that starts or
// ends inside a child cluster is completed from the backing file, the layer, by
// Qcow2Image's copy-on-write), and everything else it still reads through the layer. So a
// cancelled child reads exactly as before; it is closed normally (metadata written, marked
// clean), and a later merge skips what it already holds.
LayerMergeResult merge_layer_into_child(const std::string& layer_path, const std::string& child_path,
                                        const LayerMergeOptions& options) {
  const LayerMergeProgress& progress = options.progress;
  LayerMergeResult result;
  if (probe_image_format(layer_path) != ImageFormat::Qcow2) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         layer_path + ": a raw image (a base disk); only qcow2 snapshot layers are merged");
  }
  if (probe_image_format(child_path) != ImageFormat::Qcow2) {
    throw DiskImageError(DiskImageErrorCode::BackingChain,
                         child_path + ": a raw image has no backing file, so it does not use " + layer_path);
  }
  Qcow2Header child_header;
  Qcow2Header layer_header;
  {
    const ImageFile child_file = ImageFile::open(child_path, true);
    child_header = read_qcow2_header(child_file);
    layer_header = read_qcow2_header(ImageFile::open(layer_path, true));
  }
  const std::string child_backing =
      child_header.backing_file.empty() ? "" : resolve_backing_name(child_path, child_header.backing_file);
  const std::string layer_backing =
      layer_header.backing_file.empty() ? "" : resolve_backing_name(layer_path, layer_header.backing_file);
  const std::optional<FileIdentity> child_backing_identity =
      child_backing.empty() ? std::nullopt : identity_of(child_backing);
  if (!child_backing_identity || child_backing_identity != identity_of(layer_path)) {
    // Where an earlier run left the child once it had finished.
    const bool finished = layer_backing.empty() ? child_backing.empty()
                                                : child_backing_identity && child_backing_identity == identity_of(layer_backing);
    if (finished) {
      result.already_merged = true;
      return result;
    }
    throw DiskImageError(DiskImageErrorCode::BackingChain,
                         child_path + ": its backing file is " +
                             (child_backing.empty() ? std::string("none") : child_backing) + ", not " + layer_path +
                             "; refusing to merge " + layer_path + " into " + child_path);
  }
  if (!child_header.backing_format.empty() && child_header.backing_format != "qcow2") {
    throw DiskImageError(DiskImageErrorCode::BackingChain,
                         child_path + ": reads its backing file " + layer_path + " as " +
                             child_header.backing_format + ", but it is a qcow2 layer; refusing to merge");
  }

  std::unique_ptr<DiskImage> layer_image = open_disk_image(layer_path, {.read_only = true});
  Qcow2Image& layer = as_qcow2(*layer_image);

  // What the child will name once the layer is gone.
  std::string new_name;
  std::string new_format;
  std::uint64_t new_backing_size = 0;
  if (const DiskImage* below = layer.backing()) {
    new_format = layer_header.backing_format.empty() ? image_format_name(below->format()) : layer_header.backing_format;
    new_backing_size = below->virtual_size();
    if (same_folder(layer_path, child_path)) {
      new_name = layer_header.backing_file;
    } else {
      std::error_code error;
      const std::filesystem::path absolute = std::filesystem::absolute(layer_backing, error);
      if (error) {
        throw DiskImageError(DiskImageErrorCode::Unreadable,
                             layer_backing + ": cannot make the path absolute (" + error.message() + ")");
      }
      new_name = absolute.lexically_normal().string();
    }
  }
  // Refuse before copying anything if the new name cannot be stored.
  rebuilt_header_area(ImageFile::open(child_path, true), new_name, new_format);

  std::unique_ptr<DiskImage> child_image = open_disk_image(child_path);
  Qcow2Image& child = as_qcow2(*child_image);
  const std::uint64_t total = child.virtual_size();
  const std::uint64_t child_cluster = child.header().cluster_size();
  // Where the layer ends before the child does, the child reads zeroes there
  // through it; the layer's backing file may hold data there: keep the zeroes.
  const std::uint64_t layer_end = std::min(total, layer.virtual_size());
  const std::uint64_t zero_end = std::clamp(new_backing_size, layer_end, total);

  std::uint64_t reported = 0;
  auto report = [&](std::uint64_t done) {
    if (!progress || done == reported || (done != total && done - reported < kProgressStep)) return;
    reported = done;
    progress(done, total);
  };
  if (progress) progress(0, total);

  auto check_stop = [&] {
    if (options.stop.stop_requested()) {
      throw LayerMergeCancelled(child_path + ": merging " + layer_path +
                                " was cancelled; the image reads as before and still uses it");
    }
  };

  std::vector<std::uint8_t> buffer;
  auto copy = [&](std::uint64_t from, std::uint64_t to, bool zero) {
    for (std::uint64_t at = from; at < to;) {
      check_stop();
      const std::uint64_t end = std::min(to, (at / kCopyChunk + 1) * kCopyChunk);
      if (zero) {
        child.write_zeroes(at, end - at);
      } else {
        buffer.resize(static_cast<std::size_t>(end - at));
        layer.read(at, buffer);
        child.write(at, buffer);
      }
      at = end;
      report(at);
    }
    result.bytes_copied += to - from;
    // Later ranges in a cluster this one started find it allocated: no double count.
    result.clusters_copied += (to + child_cluster - 1) / child_cluster - from / child_cluster;
  };

  std::uint64_t position = 0;
  try {
    while (position < zero_end) {
      check_stop();
      const Qcow2Allocation source =
          position < layer_end ? layer.allocation_status(position, layer_end - position)
                               : Qcow2Allocation{.allocated = true, .zero = true, .length = zero_end - position};
      const std::uint64_t source_end = position + source.length;
      if (!source.allocated) {
        position = source_end;
        report(position);
        continue;
      }
      while (position < source_end) {
        check_stop();
        const Qcow2Allocation target = child.allocation_status(position, source_end - position);
        if (!target.allocated) copy(position, position + target.length, source.zero);
        position += target.length;
        report(position);
      }
    }
  } catch (const LayerMergeCancelled&) {
    // Closed here rather than by the destructors, so a failure to write the child's
    // metadata is reported instead of the cancel.
    child_image->close();
    layer_image->close();
    throw;
  }
  report(total);

  child_image->close();
  layer_image->close();
  if (!options.copy_only) rebase_backing_file(child_path, new_name, new_format);
  return result;
}

}  // namespace nestbox::block
