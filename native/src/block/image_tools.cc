#include "block/image_tools.h"

#include "block/image_file.h"
#include "block/raw_image.h"

namespace nestbox::block {

void create_disk_image(const CreateImageRequest& request) {
  if (request.format == ImageFormat::Raw) {
    if (!request.backing_file.empty()) {
      throw DiskImageError(DiskImageErrorCode::InvalidArgument, "raw images cannot have a backing file");
    }
    if (request.virtual_size == 0) {
      throw DiskImageError(DiskImageErrorCode::InvalidArgument, "a raw image needs a size");
    }
    RawImage::create(request.path, request.virtual_size);
    return;
  }
  Qcow2CreateOptions options;
  options.cluster_size = request.cluster_size;
  options.backing_file = request.backing_file;
  options.backing_format = request.backing_format;
  Qcow2Image::create(request.path, request.virtual_size, options);
}

DiskImageInfo describe_disk_image(const std::string& path) {
  DiskImageInfo info;
  info.path = path;
  info.format = probe_image_format(path);
  {
    const ImageFile file = ImageFile::open(path, true);
    info.file_size = file.size();
    info.allocated_bytes = file.allocated_bytes();
  }
  if (info.format == ImageFormat::Raw) {
    info.virtual_size = info.file_size;
    return info;
  }
  // The image itself first, without its backing chain, so a broken chain still
  // leaves something to show.
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  const Qcow2Header& header = image->header();
  info.virtual_size = header.size;
  info.cluster_size = header.cluster_size();
  info.version = header.version;
  info.refcount_bits = 1u << header.refcount_order;
  info.compression = header.compression_type == 1 ? "zstd" : "deflate";
  info.dirty = image->dirty();
  info.corrupt = image->corrupt();
  info.snapshots = header.nb_snapshots;
  info.backing_file = header.backing_file;
  info.backing_format = header.backing_format;
  image->close();
  if (!info.backing_file.empty()) {
    try {
      auto chain = open_disk_image(path, {.read_only = true});
      for (const DiskImage* layer = chain->backing(); layer != nullptr; layer = layer->backing()) {
        info.backing_chain.push_back({layer->path(), layer->format(), layer->virtual_size()});
      }
    } catch (const DiskImageError& error) {
      info.backing_error = error.what();
    }
  }
  return info;
}

ImageCheckReport check_disk_image(const std::string& path) {
  ImageCheckReport report;
  report.format = probe_image_format(path);
  if (report.format == ImageFormat::Raw) {
    ImageFile::open(path, true);  // readable?
    return report;
  }
  auto image = Qcow2Image::open(path, {.read_only = true}, {});
  report.result = image->check();
  image->close();
  return report;
}

std::uint64_t parse_image_size(const std::string& text) {
  auto invalid = [&]() -> DiskImageError {
    return DiskImageError(DiskImageErrorCode::InvalidArgument,
                          "invalid size \"" + text + "\" (use e.g. 10G, 512M, 64K or a byte count)");
  };
  if (text.empty()) throw invalid();
  std::size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
  if (digits == 0) throw invalid();
  const std::string number = text.substr(0, digits);
  std::string unit = text.substr(digits);
  if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b') ) unit.pop_back();
  if (unit.size() == 3 && unit.substr(1) == "iB") unit = unit.substr(0, 1);
  int shift = 0;
  if (unit.empty() || unit == "B" || unit == "b") shift = 0;
  else if (unit == "K" || unit == "k") shift = 10;
  else if (unit == "M" || unit == "m") shift = 20;
  else if (unit == "G" || unit == "g") shift = 30;
  else if (unit == "T" || unit == "t") shift = 40;
  else if (unit == "P" || unit == "p") shift = 50;
  else throw invalid();
  if (number.find('.') != std::string::npos) {
    if (number.find('.') != number.rfind('.')) throw invalid();
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(number, &used);
    } catch (...) {
      throw invalid();
    }
    const double bytes = value * static_cast<double>(1ull << shift);
    if (used != number.size() || !(bytes >= 0) || bytes >= 9.2e18) throw invalid();
    return static_cast<std::uint64_t>(bytes);
  }
  if (digits > 19) throw invalid();
  const std::uint64_t value = std::stoull(number);
  if (shift > 0 && value > (~0ull >> shift)) throw invalid();
  return value << shift;
}

}  // namespace nestbox::block
