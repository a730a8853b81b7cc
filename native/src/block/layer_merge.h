// Merging a frozen snapshot layer into the overlays that depend on it, so the
// layer can be deleted (deleting a snapshot), and the header-only "unsafe"
// rebase that ends such a merge.
//
// A chain base ← L ← C: C is a qcow2 overlay whose backing file is L, and L a
// qcow2 layer backed by base (or by nothing). merge_layer_into_child(L, C)
// gives C every range L defines that C does not define itself, then points C
// at base: C reads exactly the same before, during and after, and no longer
// needs L. L is opened read-only and never changed, so with several children
// each is merged in turn before L is removed.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "block/disk_image_error.h"

namespace nestbox::block {

// Called periodically with the bytes of the child's virtual disk dealt with so
// far and the virtual size. Throwing from it cancels the merge: the exception
// propagates, the child stays valid, reads unchanged and still uses the layer.
using LayerMergeProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct LayerMergeOptions {
  // See LayerMergeProgress; called from the merging thread, at most every 4 MiB of the
  // child's virtual disk and once at the end with done == total.
  LayerMergeProgress progress;
  // Checked before every range and every piece of a copy (at most 4 MiB): once a stop is
  // requested, the merge closes both images cleanly and throws LayerMergeCancelled. The
  // child then holds some of the layer's ranges, still names the layer as its backing file,
  // and reads exactly as before; the layer is untouched; a later run finishes the job.
  std::stop_token stop;
  // Copy only: give the child the layer's ranges but leave it backed by the layer (no
  // rebase). The child reads the same; a later full merge then only has the rebase left.
  // Lets a caller do the long part before committing to the change (deleting a snapshot).
  bool copy_only = false;
};

// A stop requested through LayerMergeOptions::stop; see there for what the images hold.
class LayerMergeCancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LayerMergeResult {
  // Guest bytes the child took over from the layer (data and zero ranges).
  std::uint64_t bytes_copied = 0;
  // Child clusters that became allocated doing so.
  std::uint64_t clusters_copied = 0;
  // The child already used the layer's backing file (or, for a layer without
  // one, had no backing file): an earlier run finished, nothing was done.
  bool already_merged = false;
};

// Merges the qcow2 layer at `layer_path` into the qcow2 image at `child_path`,
// whose backing file must be that layer (a relative backing name is resolved
// against the child's folder, as open_disk_image does; files are compared by
// identity, not by spelling). Afterwards the child's backing file is the
// layer's own (same format; stored as the layer stores it when both live in
// the same folder, else as an absolute path), or none when the layer had none.
//
// Throws DiskImageError: BackingChain when the child does not use the layer,
// InvalidArgument when the layer is raw (a base disk is never merged), and
// whatever opening or writing either image throws. Safe to run again after a
// crash or a failure at any point. Neither image may be in use elsewhere.
LayerMergeResult merge_layer_into_child(const std::string& layer_path, const std::string& child_path,
                                        const LayerMergeOptions& options);
LayerMergeResult merge_layer_into_child(const std::string& layer_path, const std::string& child_path,
                                        const LayerMergeProgress& progress = {});

// Rewrites the backing file reference of the qcow2 image at `child_path`
// without touching its content (qemu-img rebase -u): what the child does not
// allocate itself will read from the new backing file. `backing_file` is stored
// as given (a relative name is relative to the child's folder); empty removes
// the reference. `backing_format` is "qcow2", "raw" or "" (detected). The new
// backing chain must open and must not contain the child.
void rebase_backing_file(const std::string& child_path, const std::string& backing_file,
                         const std::string& backing_format = "");

}  // namespace nestbox::block
