// The AML encoder against byte sequences derived by hand from ACPI 6.x ch. 20.
#include <doctest/doctest.h>

#include <vector>

#include "arch/x86/acpi/aml.h"
#include "arch/x86/acpi/aml_resource_template.h"
#include "test_helpers.h"

namespace aml = nestbox::x86::acpi::aml;
using Bytes = std::vector<std::uint8_t>;

TEST_CASE("aml PkgLength encodings at the 1/2/3/4-byte boundaries") {
  CHECK(aml::encode_package_length(0) == Bytes{0x00});
  CHECK(aml::encode_package_length(63) == Bytes{0x3f});
  CHECK(aml::encode_package_length(64) == Bytes{0x40, 0x04});  // low nibble 0, then 64 >> 4
  CHECK(aml::encode_package_length(4095) == Bytes{0x4f, 0xff});
  CHECK(aml::encode_package_length(4096) == Bytes{0x80, 0x00, 0x01});
  CHECK(aml::encode_package_length(0xfffff) == Bytes{0x8f, 0xff, 0xff});
  CHECK(aml::encode_package_length(0x100000) == Bytes{0xc0, 0x00, 0x00, 0x01});  // 1 MiB
  CHECK(aml::encode_package_length(aml::kMaxPackageLength) == Bytes{0xcf, 0xff, 0xff, 0xff});
  const auto error = nestbox::test::expect_error(
      [] { (void)aml::encode_package_length(aml::kMaxPackageLength + 1); });
  CHECK(error.code == nestbox::ErrorCode::InvalidConfig);
}

TEST_CASE("aml PkgLength counts its own bytes when choosing a size") {
  const auto length_bytes = [](std::size_t body) {
    return aml::with_package_length(Bytes(body, 0xaa)).size() - body;
  };
  CHECK(length_bytes(62) == 1);  // 63 in total
  CHECK(length_bytes(63) == 2);  // 64 would not fit one byte
  CHECK(length_bytes(4093) == 2);
  CHECK(length_bytes(4094) == 3);
  CHECK(length_bytes(0xfffff - 3) == 3);
  CHECK(length_bytes(0xfffff - 2) == 4);
  const Bytes encoded = aml::with_package_length(Bytes(63, 0));
  CHECK(encoded[0] == 0x41);  // 65 = 0x41: low nibble 1...
  CHECK(encoded[1] == 0x04);  // ...and 65 >> 4
}

TEST_CASE("aml names: padding, root, parent prefixes, dual and multi paths") {
  CHECK(aml::name_string("_S5") == Bytes{'_', 'S', '5', '_'});
  CHECK(aml::name_string("\\_SB.PCI0") == Bytes{'\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'});
  CHECK(aml::name_string("^^FOO") == Bytes{'^', '^', 'F', 'O', 'O', '_'});
  CHECK(aml::name_string("\\") == Bytes{'\\', 0x00});
  CHECK(aml::name_string("A.B.C") ==
        Bytes{0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'});
  for (const char* bad : {"1ABC", "ABCDE", "a", "A..B", "A.", "A-B"}) {
    CHECK(nestbox::test::expect_error([&] { (void)aml::name_string(bad); }).code ==
          nestbox::ErrorCode::InvalidConfig);
  }
}

TEST_CASE("aml integers use the smallest encoding") {
  CHECK(aml::integer(0) == Bytes{0x00});
  CHECK(aml::integer(1) == Bytes{0x01});
  CHECK(aml::integer(2) == Bytes{0x0a, 0x02});
  CHECK(aml::integer(0xff) == Bytes{0x0a, 0xff});
  CHECK(aml::integer(0x100) == Bytes{0x0b, 0x00, 0x01});
  CHECK(aml::integer(0x10000) == Bytes{0x0c, 0x00, 0x00, 0x01, 0x00});
  CHECK(aml::integer(0x1'0000'0000) == Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0});
  CHECK(aml::string("Hi") == Bytes{0x0d, 'H', 'i', 0x00});
  CHECK(aml::eisa_id("PNP0501") == Bytes{0x0c, 0x41, 0xd0, 0x05, 0x01});
  CHECK(aml::eisa_id("PNP0303") == Bytes{0x0c, 0x41, 0xd0, 0x03, 0x03});
}

TEST_CASE("aml Name(\\_S5, Package(){5, 5, 0, 0}) matches the hand encoding") {
  const Bytes s5 = aml::name("\\_S5", aml::package({aml::integer(5), aml::integer(5),
                                                    aml::integer(0), aml::integer(0)}));
  // NameOp, root, "_S5_", PackageOp, PkgLength 8 (itself + count + 6 bytes), 4 elements.
  CHECK(s5 == Bytes{0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05,
                    0x00, 0x00});
}

TEST_CASE("aml Device with a _HID and a ResourceTemplate matches the hand encoding") {
  CHECK(aml::device("COM1", aml::name("_HID", aml::eisa_id("PNP0501"))) ==
        Bytes{0x5b, 0x82, 0x0f, 'C', 'O', 'M', '1', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0,
              0x05, 0x01});
  const Bytes crs = aml::ResourceTemplate{}.io(0x3f8, 0x3f8, 0x08, 0x08).irq_no_flags(4).buffer();
  CHECK(crs == Bytes{0x11, 0x10, 0x0a, 0x0d,                          // Buffer(13)
                     0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x08, 0x08,  // IO(Decode16, ...)
                     0x22, 0x10, 0x00,                                // IRQNoFlags(){4}
                     0x79, 0x00});                                    // EndTag
  CHECK(aml::ResourceTemplate{}.fixed_io(0x60, 1).memory32_fixed(true, 0xfed00000, 0x400).descriptors() ==
        Bytes{0x4b, 0x60, 0x00, 0x01, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xd0, 0xfe, 0x00, 0x04,
              0x00, 0x00, 0x79, 0x00});
  CHECK(aml::scope("\\_SB", Bytes{}) == Bytes{0x10, 0x06, '\\', '_', 'S', 'B', '_'});
  CHECK(aml::method("_STA", 0, false, aml::return_value(aml::integer(0x0f))) ==
        Bytes{0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f});
}
