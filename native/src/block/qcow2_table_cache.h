// A small LRU cache of cluster-sized metadata tables (L2 tables, refcount
// blocks), keyed by their offset in the file. Write-back: a changed table stays
// dirty in memory until its owner writes it out, so the owner can order
// metadata writes after the data they describe.
#pragma once

#include <cstdint>
#include <vector>

namespace nestbox::block {

struct CachedTable {
  std::uint64_t offset = 0;
  std::vector<std::uint8_t> data;
  bool dirty = false;
  std::uint64_t last_use = 0;
};

class Qcow2TableCache {
 public:
  explicit Qcow2TableCache(std::size_t capacity) : capacity_(capacity) { tables_.reserve(capacity); }

  // The cached table at `offset`, or nullptr.
  CachedTable* find(std::uint64_t offset) {
    for (CachedTable& table : tables_) {
      if (table.offset == offset && !table.data.empty()) {
        table.last_use = ++clock_;
        return &table;
      }
    }
    return nullptr;
  }

  // A slot for a new table: a free one, or the least recently used (which the
  // caller must write back first if dirty, then overwrite).
  CachedTable& victim() {
    if (tables_.size() < capacity_) return tables_.emplace_back();
    CachedTable* oldest = &tables_.front();
    for (CachedTable& table : tables_) {
      if (table.last_use < oldest->last_use) oldest = &table;
    }
    return *oldest;
  }

  void touch(CachedTable& table) { table.last_use = ++clock_; }
  std::vector<CachedTable>& tables() { return tables_; }
  void clear() { tables_.clear(); }

 private:
  std::size_t capacity_;
  std::uint64_t clock_ = 0;
  std::vector<CachedTable> tables_;
};

}  // namespace nestbox::block
