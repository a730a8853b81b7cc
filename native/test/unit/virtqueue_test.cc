#include <doctest/doctest.h>

#include <string>

#include "devices/virtio/queue/virt_queue.h"
#include "devices/virtio/queue/virt_queue_error.h"
#include "devices/virtio/queue/virtq_abi.h"
#include "support/fake_guest_memory.h"
#include "support/virtqueue_builder.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::virtio;
using nestbox::test::BufferSpec;
using nestbox::test::QueueLayout;
using nestbox::test::VirtqueueBuilder;

namespace {

constexpr std::uint16_t kSize = 16;
constexpr std::uint64_t kQueueBase = 0x1000;
constexpr std::uint64_t kData = 0x10000;
constexpr std::uint64_t kIndirectTable = 0x8000;

struct QueueFixture {
  GuestMemory memory = test::make_guest_memory();
  QueueLayout layout = QueueLayout::contiguous(kQueueBase, kSize);
  VirtqueueBuilder driver{memory, layout};
  VirtQueue queue{256};

  QueueFixture() { configure(queue, layout); }

  static void configure(VirtQueue& q, const QueueLayout& l) {
    q.set_size(l.size);
    q.set_descriptor_table(l.descriptor_table);
    q.set_avail_ring(l.avail_ring);
    q.set_used_ring(l.used_ring);
  }
  void enable(bool event_index = false, bool indirect = true) {
    queue.set_ring_features(event_index, indirect);
    queue.enable(memory);
  }
  std::string pop_error() {
    try {
      (void)queue.pop(memory);
    } catch (const VirtQueueError& error) {
      return error.what();
    }
    return "";
  }
};

}  // namespace

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: a readable+writable chain comes out in order") {
  enable();
  driver.write_chain(3, {{kData, 100, false}, {kData + 0x100, 20, false}, {kData + 0x1000, 512, true}});
  driver.make_available(3);
  const auto chain = queue.pop(memory);
  REQUIRE(chain.has_value());
  CHECK(chain->head == 3);
  REQUIRE(chain->readable.size() == 2);
  CHECK(chain->readable[0].address == kData);
  CHECK(chain->readable[1].length == 20);
  REQUIRE(chain->writable.size() == 1);
  CHECK(chain->writable_bytes() == 512);
  CHECK(chain->readable_bytes() == 120);
  CHECK_FALSE(queue.pop(memory).has_value());  // ring empty now

  queue.add_used(memory, chain->head, 77);
  CHECK(driver.used_idx() == 1);
  CHECK(driver.used_element(0).id == 3);
  CHECK(driver.used_element(0).length == 77);
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: indirect chains are followed") {
  enable();
  driver.write_indirect_chain(0, kIndirectTable, {{kData, 8, false}, {kData + 8, 64, true}, {kData + 72, 64, true}});
  driver.make_available(0);
  const auto chain = queue.pop(memory);
  REQUIRE(chain.has_value());
  CHECK(chain->head == 0);
  CHECK(chain->readable.size() == 1);
  CHECK(chain->writable.size() == 2);
  CHECK(chain->writable_bytes() == 128);
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: zero-length buffers are dropped, not rejected") {
  enable();
  driver.write_chain(0, {{0xdead'beef'0000, 0, false}, {kData, 16, true}});
  driver.make_available(0);
  const auto chain = queue.pop(memory);
  REQUIRE(chain.has_value());
  CHECK(chain->readable.empty());
  CHECK(chain->writable.size() == 1);
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: malformed chains are errors, never crashes") {
  enable();
  SUBCASE("buffer outside RAM") {
    driver.set_descriptor(0, test::kFakeRamSize + 0x1000, 16, 0);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "outside guest RAM"));
  }
  SUBCASE("buffer running past the end of RAM") {
    driver.set_descriptor(0, test::kFakeRamSize - 8, 16, 0);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "outside guest RAM"));
  }
  SUBCASE("address + length wraps the 64-bit space") {
    driver.set_descriptor(0, ~std::uint64_t{0} - 4, 0xffff'ffff, kDescFlagWrite);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "outside guest RAM"));
  }
  SUBCASE("a loop") {
    driver.set_descriptor(0, kData, 16, kDescFlagNext, 1);
    driver.set_descriptor(1, kData, 16, kDescFlagNext, 0);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "loop"));
  }
  SUBCASE("a self loop") {
    driver.set_descriptor(5, kData, 16, kDescFlagNext, 5);
    driver.make_available(5);
    CHECK(test::contains(pop_error(), "loop"));
  }
  SUBCASE("next index beyond the table") {
    driver.set_descriptor(0, kData, 16, kDescFlagNext, kSize);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "outside its table"));
  }
  SUBCASE("head index beyond the table") {
    driver.make_available(kSize + 3);
    CHECK(test::contains(pop_error(), "head index"));
  }
  SUBCASE("readable after writable") {
    driver.write_chain(0, {{kData, 16, true}, {kData + 16, 16, false}});
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "readable buffer follows a writable"));
  }
  SUBCASE("nested indirect") {
    driver.set_descriptor_in(kIndirectTable, 0, kIndirectTable + 0x100, 32, kDescFlagIndirect);
    driver.set_descriptor(0, kIndirectTable, 16, kDescFlagIndirect);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "another indirect table"));
  }
  SUBCASE("indirect table length not a multiple of 16") {
    driver.set_descriptor(0, kIndirectTable, 24, kDescFlagIndirect);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "multiple of 16"));
  }
  SUBCASE("indirect table of length 0") {
    driver.set_descriptor(0, kIndirectTable, 0, kDescFlagIndirect);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "multiple of 16"));
  }
  SUBCASE("indirect table outside RAM") {
    driver.set_descriptor(0, test::kFakeRamSize - 16, 32, kDescFlagIndirect);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "indirect table is outside"));
  }
  SUBCASE("indirect with NEXT") {
    driver.set_descriptor(0, kIndirectTable, 16, kDescFlagIndirect | kDescFlagNext, 1);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "indirect descriptor with NEXT"));
  }
  SUBCASE("loop inside an indirect table") {
    driver.set_descriptor_in(kIndirectTable, 0, kData, 16, kDescFlagNext, 1);
    driver.set_descriptor_in(kIndirectTable, 1, kData, 16, kDescFlagNext, 0);
    driver.set_descriptor(0, kIndirectTable, 32, kDescFlagIndirect);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "loop"));
  }
  SUBCASE("next beyond an indirect table") {
    driver.set_descriptor_in(kIndirectTable, 0, kData, 16, kDescFlagNext, 2);
    driver.set_descriptor(0, kIndirectTable, 32, kDescFlagIndirect);
    driver.make_available(0);
    CHECK(test::contains(pop_error(), "outside its table"));
  }
  SUBCASE("available index more than a queue ahead") {
    driver.set_avail_idx(kSize + 1);
    CHECK(test::contains(pop_error(), "ahead of the device"));
  }
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: indirect descriptors need the negotiated feature") {
  enable(false, /*indirect=*/false);
  driver.write_indirect_chain(0, kIndirectTable, {{kData, 16, true}});
  driver.make_available(0);
  CHECK(test::contains(pop_error(), "VIRTIO_F_INDIRECT_DESC"));
}

TEST_CASE("virtqueue: enable validates size, alignment and ring placement") {
  const GuestMemory memory = test::make_guest_memory();
  const auto enable_error = [&](QueueLayout layout, std::uint16_t max = 256) {
    VirtQueue queue(max);
    QueueFixture::configure(queue, layout);
    try {
      queue.enable(memory);
    } catch (const VirtQueueError& error) {
      CHECK_FALSE(queue.ready());
      return std::string(error.what());
    }
    CHECK(queue.ready());
    return std::string();
  };
  CHECK(enable_error(QueueLayout::contiguous(0x1000, 256)).empty());
  CHECK(test::contains(enable_error(QueueLayout::contiguous(0x1000, 12)), "power of two"));
  CHECK(test::contains(enable_error(QueueLayout::contiguous(0x1000, 0)), "power of two"));
  CHECK(test::contains(enable_error(QueueLayout::contiguous(0x1000, 512)), "power of two"));
  QueueLayout misaligned = QueueLayout::contiguous(0x1000, 16);
  misaligned.descriptor_table += 8;
  CHECK(test::contains(enable_error(misaligned), "aligned"));
  QueueLayout used_outside = QueueLayout::contiguous(0x1000, 16);
  used_outside.used_ring = test::kFakeRamSize - 8;
  CHECK(test::contains(enable_error(used_outside), "used ring is outside"));
  QueueLayout wraps = QueueLayout::contiguous(0x1000, 16);
  wraps.avail_ring = ~std::uint64_t{1};
  CHECK(test::contains(enable_error(wraps), "available ring is outside"));
  CHECK_THROWS_AS(VirtQueue(100), VirtQueueError);
}

TEST_CASE("virtqueue: rings may not straddle two RAM regions") {
  const GuestMemory memory =
      test::make_guest_memory({{0, 0x2000}, {0x2000 + 0x1000, 0x2000}});
  VirtQueue queue(16);
  QueueFixture::configure(queue, QueueLayout::contiguous(0x1f00, 16));  // table ends at 0x2000, avail in the gap
  CHECK_THROWS_AS(queue.enable(memory), VirtQueueError);
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: positions wrap at 65536") {
  enable();
  VirtQueueState state = queue.save();
  state.next_avail = 0xfffe;
  state.next_used = 0xfffe;
  queue.restore(state, memory);
  driver.set_avail_idx(0xfffe);
  for (std::uint16_t i = 0; i < 4; ++i) {
    driver.write_chain(i, {{kData, 16, true}});
    driver.make_available(i);
  }
  CHECK(driver.avail_idx() == 2);
  for (std::uint16_t i = 0; i < 4; ++i) {
    const auto chain = queue.pop(memory);
    REQUIRE(chain.has_value());
    CHECK(chain->head == i);
    queue.add_used(memory, chain->head, 16);
  }
  CHECK_FALSE(queue.pop(memory).has_value());
  CHECK(driver.used_idx() == 2);
  CHECK(driver.used_element(0xffff).id == 1);
  CHECK(driver.used_element(1).id == 3);
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: NO_INTERRUPT suppresses notification without event index") {
  enable(false);
  driver.write_chain(0, {{kData, 16, true}});
  driver.make_available(0);
  queue.add_used(memory, queue.pop(memory)->head, 1);
  CHECK(queue.needs_notification(memory));
  driver.set_avail_flags(kAvailFlagNoInterrupt);
  CHECK_FALSE(queue.needs_notification(memory));
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: event index suppresses interrupts, across wrap-around") {
  enable(true);
  VirtQueueState state = queue.save();
  state.next_avail = 0xfffc;
  state.next_used = 0xfffc;
  queue.restore(state, memory);
  driver.set_avail_idx(0xfffc);
  // The first decision after enable/restore always notifies.
  CHECK(queue.needs_notification(memory));  // signalled_used = 0xfffc

  const auto complete_one = [&](std::uint16_t head) {
    driver.write_chain(head, {{kData, 16, true}});
    driver.make_available(head);
    const auto chain = queue.pop(memory);
    REQUIRE(chain.has_value());
    queue.add_used(memory, chain->head, 16);
  };
  // The driver wants to hear when used idx passes 0x0001 (i.e. reaches 0x0002).
  driver.set_used_event(0x0001);
  complete_one(0);  // used 0xfffd
  CHECK_FALSE(queue.needs_notification(memory));
  complete_one(1);  // 0xfffe
  complete_one(2);  // 0xffff
  CHECK_FALSE(queue.needs_notification(memory));
  complete_one(3);  // 0x0000 (wrapped)
  complete_one(4);  // 0x0001
  CHECK_FALSE(queue.needs_notification(memory));
  complete_one(5);  // 0x0002: crosses used_event + 1
  CHECK(queue.needs_notification(memory));
  CHECK_FALSE(queue.needs_notification(memory));  // nothing new since

  // When the ring runs dry the device publishes avail_event = next_avail.
  CHECK_FALSE(queue.pop(memory).has_value());
  CHECK(driver.avail_event() == 0x0002);
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: event index notifies when a batch jumps past used_event") {
  enable(true);
  CHECK(queue.needs_notification(memory));
  driver.set_used_event(2);
  for (std::uint16_t i = 0; i < 5; ++i) {
    driver.write_chain(i, {{kData, 16, true}});
    driver.make_available(i);
    queue.add_used(memory, queue.pop(memory)->head, 0);
  }
  CHECK(queue.needs_notification(memory));  // 0 → 5 passes 3
}

TEST_CASE_FIXTURE(QueueFixture, "virtqueue: save and restore keep positions and configuration") {
  enable(true);
  driver.write_chain(0, {{kData, 16, true}});
  driver.make_available(0);
  queue.add_used(memory, queue.pop(memory)->head, 4);
  const VirtQueueState saved = queue.save();

  VirtQueue restored(256);
  restored.restore(saved, memory);
  CHECK(restored.ready());
  CHECK(restored.size() == kSize);
  CHECK(restored.save().next_avail == 1);
  CHECK(restored.save().next_used == 1);
  CHECK(restored.save().event_index);
  driver.write_chain(1, {{kData, 16, true}});
  driver.make_available(1);
  const auto chain = restored.pop(memory);
  REQUIRE(chain.has_value());
  CHECK(chain->head == 1);

  VirtQueueState broken = saved;
  broken.used_ring = test::kFakeRamSize;
  CHECK_THROWS_AS(restored.restore(broken, memory), VirtQueueError);

  queue.reset();
  CHECK_FALSE(queue.ready());
  CHECK(queue.size() == 256);
  CHECK_FALSE(queue.pop(memory).has_value());
}
