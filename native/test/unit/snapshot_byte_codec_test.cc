#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "snapshot/byte_codec.h"
#include "snapshot_test_support.h"
#include "test_helpers.h"

using nestbox::snapshot::ByteReader;
using nestbox::snapshot::ByteWriter;
using nestbox::snapshot::SnapshotProblem;
using nestbox::test::contains;
using nestbox::test::expect_snapshot_error;

namespace {

struct Plain {
  std::uint32_t a;
  std::uint16_t b;
  std::uint8_t c[2];
  std::uint64_t d;
};

}  // namespace

TEST_CASE("byte codec: every type round-trips, little-endian") {
  ByteWriter out;
  out.u8(0xab);
  out.u16(0x1234);
  out.u32(0xdeadbeef);
  out.u64(0x0102030405060708ull);
  out.boolean(true);
  out.boolean(false);
  const std::vector<std::uint8_t> blob{9, 8, 7};
  out.blob(blob);
  out.string("vcpu0");
  out.pod(Plain{1, 2, {3, 4}, 5});
  out.raw(std::vector<std::uint8_t>{0xee});

  // The encoding is fixed: spot-check that it is little-endian.
  const std::vector<std::uint8_t>& bytes = out.bytes();
  CHECK(bytes[1] == 0x34);
  CHECK(bytes[2] == 0x12);
  CHECK(bytes[3] == 0xef);

  ByteReader in(bytes, "test");
  CHECK(in.u8() == 0xab);
  CHECK(in.u16() == 0x1234);
  CHECK(in.u32() == 0xdeadbeef);
  CHECK(in.u64() == 0x0102030405060708ull);
  CHECK(in.boolean());
  CHECK_FALSE(in.boolean());
  CHECK(in.blob(100) == blob);
  CHECK(in.string(100) == "vcpu0");
  const Plain plain = in.pod<Plain>("plain");
  CHECK(plain.a == 1);
  CHECK(plain.b == 2);
  CHECK(plain.c[1] == 4);
  CHECK(plain.d == 5);
  CHECK(in.raw(1)[0] == 0xee);
  CHECK(in.remaining() == 0);
  in.expect_end();
}

TEST_CASE("byte codec: reading past the end is refused, naming the context and offset") {
  const std::vector<std::uint8_t> bytes{1, 2, 3};
  ByteReader in(bytes, "section TEST");
  CHECK(in.u16() == 0x0201);
  const auto error = expect_snapshot_error([&] { (void)in.u32(); });
  CHECK(error.problem == SnapshotProblem::Malformed);
  CHECK(contains(error.message, "section TEST"));
  CHECK(contains(error.message, "needs 4 more bytes, only 1 remain"));
  CHECK(contains(error.message, "at byte 2"));
  // The failed read consumed nothing.
  CHECK(in.u8() == 3);
  CHECK_THROWS((void)in.u8());
  CHECK_THROWS((void)in.raw(1));
}

TEST_CASE("byte codec: lengths and counts are checked before anything is allocated") {
  SUBCASE("a blob longer than what remains") {
    ByteWriter out;
    out.u64(std::numeric_limits<std::uint64_t>::max());
    ByteReader in(out.bytes(), "t");
    const auto error = expect_snapshot_error([&] { (void)in.blob(std::numeric_limits<std::uint64_t>::max()); });
    CHECK(contains(error.message, "only 0 remain"));
  }
  SUBCASE("a blob over its limit") {
    ByteWriter out;
    out.blob(std::vector<std::uint8_t>(10, 1));
    ByteReader in(out.bytes(), "t");
    CHECK(contains(expect_snapshot_error([&] { (void)in.blob(9); }).message,
                   "exceeds the limit of 9"));
  }
  SUBCASE("a string over its limit or past the end") {
    ByteWriter out;
    out.u32(1000);
    ByteReader in(out.bytes(), "t");
    CHECK_THROWS((void)in.string(999));
    ByteReader again(out.bytes(), "t");
    CHECK(contains(expect_snapshot_error([&] { (void)again.string(5000); }).message, "remain"));
  }
  SUBCASE("a count over its limit") {
    ByteWriter out;
    out.u32(5);
    ByteReader in(out.bytes(), "t");
    CHECK(contains(expect_snapshot_error([&] { (void)in.count(4, 0); }).message,
                   "exceeds the limit of 4"));
  }
  SUBCASE("a count whose elements cannot fit in what remains") {
    ByteWriter out;
    out.u32(0xffffffff);
    out.u64(0);
    ByteReader in(out.bytes(), "t");
    CHECK(contains(expect_snapshot_error([&] { (void)in.count(0xffffffff, 12); }).message,
                   "cannot fit"));
    ByteWriter small;
    small.u32(2);
    small.u64(0);
    small.u64(0);
    ByteReader ok(small.bytes(), "t");
    CHECK(ok.count(10, 8) == 2);
  }
}

TEST_CASE("byte codec: a struct of another size, a bad flag and trailing bytes are refused") {
  ByteWriter out;
  out.pod(std::uint32_t{7});
  ByteReader in(out.bytes(), "t");
  const auto error = expect_snapshot_error([&] { (void)in.pod<Plain>("Plain"); });
  CHECK(contains(error.message, "Plain is 4 bytes, expected 16"));

  const std::vector<std::uint8_t> flag{2};
  ByteReader flags(flag, "t");
  CHECK(contains(expect_snapshot_error([&] { (void)flags.boolean(); }).message, "instead of 0 or 1"));

  const std::vector<std::uint8_t> extra{1, 2};
  ByteReader trailing(extra, "t");
  (void)trailing.u8();
  CHECK(contains(expect_snapshot_error([&] { trailing.expect_end(); }).message,
                 "1 unexpected bytes at the end"));
}
