#include "snapshot/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "common/unique_fd.h"
#include "snapshot/atomic_file.h"
#include "snapshot/snapshot_error.h"

namespace nestbox::snapshot {

namespace {

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}
void put_u64(std::vector<std::uint8_t>& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t get_u64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(get_u32(p)) | static_cast<std::uint64_t>(get_u32(p + 4)) << 32;
}

// CRC-32 of the section's tag, version and length fields, then its payload.
std::uint32_t section_crc(const std::uint8_t* header, std::span<const std::uint8_t> payload) {
  uLong crc = ::crc32_z(0L, Z_NULL, 0);
  crc = ::crc32_z(crc, header, 16);
  // Not for an empty payload: zlib treats a null buffer (an empty vector's
  // data()) as "return the initial value", which would drop the header's CRC.
  if (!payload.empty()) {
    crc = ::crc32_z(crc, payload.data(), payload.size());
  }
  return static_cast<std::uint32_t>(crc);
}

void append_section(std::vector<std::uint8_t>& out, std::uint32_t tag, std::uint32_t version,
                    std::span<const std::uint8_t> payload) {
  const std::size_t header_at = out.size();
  put_u32(out, tag);
  put_u32(out, version);
  put_u64(out, payload.size());
  const std::uint32_t crc = section_crc(out.data() + header_at, payload);
  put_u32(out, crc);
  put_u32(out, 0);  // flags
  out.insert(out.end(), payload.begin(), payload.end());
}

const SectionSpec* spec_for(std::span<const SectionSpec> specs, std::uint32_t tag) {
  for (const SectionSpec& spec : specs) {
    if (spec.tag == tag) return &spec;
  }
  return nullptr;
}

std::string section_name(std::span<const SectionSpec> specs, std::uint32_t tag) {
  std::string name = "section " + tag_text(tag);
  if (const SectionSpec* spec = spec_for(specs, tag)) {
    name += " (" + std::string(spec->description) + ")";
  }
  return name;
}

}  // namespace

std::string tag_text(std::uint32_t tag) {
  std::string text;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((tag >> (8 * i)) & 0xff);
    if (c < 0x20 || c > 0x7e) {
      static constexpr char kDigits[] = "0123456789abcdef";
      std::string hex = "0x";
      for (int shift = 28; shift >= 0; shift -= 4) hex += kDigits[(tag >> shift) & 0xf];
      return hex;
    }
    text += c;
  }
  return text;
}

void StateFileWriter::add(std::uint32_t tag, std::uint32_t version,
                          std::vector<std::uint8_t> payload) {
  if (tag == kEndTag) {
    throw std::logic_error("state file: the end tag is reserved");
  }
  for (const Pending& section : sections_) {
    if (section.tag == tag) {
      throw std::logic_error("state file: section " + tag_text(tag) + " added twice");
    }
  }
  sections_.push_back({tag, version, std::move(payload)});
}

std::vector<std::uint8_t> StateFileWriter::bytes() const {
  std::vector<std::uint8_t> out(kStateFileMagic.begin(), kStateFileMagic.end());
  put_u32(out, kStateFormatVersion);
  for (const Pending& section : sections_) {
    append_section(out, section.tag, section.version, section.payload);
  }
  std::vector<std::uint8_t> end_payload;
  put_u64(end_payload, sections_.size());
  append_section(out, kEndTag, 1, end_payload);
  return out;
}

std::uint64_t StateFileWriter::write(const std::string& path) const {
  const std::vector<std::uint8_t> contents = bytes();
  write_file_atomically(path, [&](int fd) { write_fully(fd, contents, 0, path); });
  return contents.size();
}

StateFile StateFile::parse(std::vector<std::uint8_t> bytes, std::span<const SectionSpec> specs,
                           std::string_view source_name) {
  const std::string source(source_name);
  const auto refuse = [&](SnapshotProblem problem, const std::string& message) {
    throw SnapshotError(problem, source + ": " + message);
  };
  const std::size_t size = bytes.size();

  // Header. A file shorter than the header but starting like one was cut off.
  const std::size_t magic_seen = std::min(size, kStateFileMagic.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(magic_seen),
                  kStateFileMagic.begin())) {
    refuse(SnapshotProblem::NotASnapshot, "not a Nestbox state file (wrong magic)");
  }
  if (size < kStateFileHeaderSize) {
    refuse(SnapshotProblem::Truncated,
           "the file ends inside its " + std::to_string(kStateFileHeaderSize) +
               "-byte header: it is truncated");
  }
  const std::uint32_t format = get_u32(bytes.data() + 8);
  if (format > kStateFormatVersion) {
    refuse(SnapshotProblem::NewerFormat,
           "written by a newer Nestbox (format " + std::to_string(format) +
               "); this version reads up to format " + std::to_string(kStateFormatVersion) +
               ". Update Nestbox to use this snapshot");
  }
  if (format < kOldestReadableStateFormatVersion) {
    refuse(SnapshotProblem::OlderFormat,
           "written by an older Nestbox (format " + std::to_string(format) +
               ") that this version cannot read or upgrade (it reads formats " +
               std::to_string(kOldestReadableStateFormatVersion) + " to " +
               std::to_string(kStateFormatVersion) + ")");
  }

  std::vector<StateSection> sections;
  std::size_t at = kStateFileHeaderSize;
  bool ended = false;
  while (!ended) {
    if (size - at < kSectionHeaderSize) {
      refuse(SnapshotProblem::Truncated,
             size == at ? "the file ends after " + std::to_string(sections.size()) +
                              " sections without its end marker: it is truncated"
                        : "the file ends inside a section header at byte " + std::to_string(at) +
                              ": it is truncated");
    }
    const std::uint8_t* header = bytes.data() + at;
    const std::uint32_t tag = get_u32(header);
    const std::uint32_t version = get_u32(header + 4);
    const std::uint64_t length = get_u64(header + 8);
    const std::uint32_t stored_crc = get_u32(header + 16);
    const std::uint32_t flags = get_u32(header + 20);
    const std::string name = tag == kEndTag ? "the end marker" : section_name(specs, tag);
    const std::size_t payload_at = at + kSectionHeaderSize;
    if (length > size - payload_at) {
      refuse(SnapshotProblem::Truncated,
             name + " at byte " + std::to_string(at) + " claims " + std::to_string(length) +
                 " bytes but only " + std::to_string(size - payload_at) +
                 " remain: the file is truncated or corrupt");
    }
    const std::span<const std::uint8_t> payload(bytes.data() + payload_at,
                                                static_cast<std::size_t>(length));
    if (section_crc(header, payload) != stored_crc) {
      refuse(SnapshotProblem::BadChecksum,
             name + " at byte " + std::to_string(at) + " fails its checksum: the file is corrupt");
    }
    if (flags != 0) {
      refuse(SnapshotProblem::Malformed, name + " has unknown flags " + std::to_string(flags));
    }
    at = payload_at + static_cast<std::size_t>(length);

    if (tag == kEndTag) {
      if (length != 8 || get_u64(payload.data()) != sections.size()) {
        refuse(SnapshotProblem::Malformed,
               "the end marker does not match the " + std::to_string(sections.size()) +
                   " sections before it");
      }
      if (at != size) {
        refuse(SnapshotProblem::Malformed, std::to_string(size - at) +
                                               " unexpected bytes follow the end marker");
      }
      ended = true;
      continue;
    }
    for (const StateSection& seen : sections) {
      if (seen.tag == tag) {
        refuse(SnapshotProblem::DuplicateSection, name + " appears twice");
      }
    }
    if (const SectionSpec* spec = spec_for(specs, tag)) {
      if (version > spec->newest_version) {
        refuse(SnapshotProblem::UnsupportedSection,
               name + " is version " + std::to_string(version) +
                   ", written by a newer Nestbox; this version reads up to " +
                   std::to_string(spec->newest_version));
      }
      if (version < spec->oldest_version) {
        refuse(SnapshotProblem::UnsupportedSection,
               name + " is version " + std::to_string(version) +
                   ", from an older Nestbox; this version reads versions " +
                   std::to_string(spec->oldest_version) + " to " +
                   std::to_string(spec->newest_version));
      }
    }
    sections.push_back({tag, version, payload_at, static_cast<std::size_t>(length)});
  }

  for (const SectionSpec& spec : specs) {
    if (!spec.required) continue;
    const bool present = std::any_of(sections.begin(), sections.end(),
                                     [&](const StateSection& s) { return s.tag == spec.tag; });
    if (!present) {
      refuse(SnapshotProblem::MissingSection,
             "the required " + section_name(specs, spec.tag) + " is missing");
    }
  }
  return StateFile(std::move(bytes), source, format, std::move(sections));
}

StateFile StateFile::read(const std::string& path, std::span<const SectionSpec> specs) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    throw_io_error("cannot open the state file", path, errno);
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    throw_io_error("cannot read the state file", path, errno);
  }
  if (!S_ISREG(info.st_mode)) {
    throw SnapshotError(SnapshotProblem::NotASnapshot, path + ": not a regular file");
  }
  if (static_cast<std::uint64_t>(info.st_size) > kMaxStateFileSize) {
    throw SnapshotError(SnapshotProblem::NotASnapshot,
                        path + ": " + std::to_string(info.st_size) +
                            " bytes is too large for a Nestbox state file");
  }
  // Sized from the file, never from anything inside it.
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::pread(fd.get(), bytes.data() + done, bytes.size() - done,
                                static_cast<off_t>(done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_io_error("cannot read the state file", path, errno);
    }
    if (got == 0) break;  // shrank under us: parse() reports the truncation
    done += static_cast<std::size_t>(got);
  }
  bytes.resize(done);
  return parse(std::move(bytes), specs, path);
}

const StateSection* StateFile::find(std::uint32_t tag) const {
  for (const StateSection& section : sections_) {
    if (section.tag == tag) return &section;
  }
  return nullptr;
}

const StateSection& StateFile::require(std::uint32_t tag) const {
  const StateSection* section = find(tag);
  if (section == nullptr) {
    throw SnapshotError(SnapshotProblem::MissingSection,
                        source_name_ + ": section " + tag_text(tag) + " is missing");
  }
  return *section;
}

std::span<const std::uint8_t> StateFile::payload(std::uint32_t tag) const {
  const StateSection& section = require(tag);
  return {bytes_.data() + section.offset, section.length};
}

std::uint32_t StateFile::version(std::uint32_t tag) const { return require(tag).version; }

ByteReader StateFile::reader(std::uint32_t tag) const {
  return ByteReader(payload(tag), source_name_ + ": section " + tag_text(tag));
}

}  // namespace nestbox::snapshot
