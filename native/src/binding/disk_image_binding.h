// N-API surface of the disk-image layer (native/src/block): imageCreate,
// imageInfo, imageCheck, imageRead, imageWrite and openDiskImage (a
// DiskImageHandle with read/write/writeZeroes/discard/flush/close).
//
// Every call returns a Promise: the file work runs on one dedicated thread per
// JS environment (not the libuv pool), jobs in submission order, and results
// come back through a ThreadSafeFunction. Options are parsed into plain C++
// values on the JS thread, so worker code never touches N-API. At environment
// teardown the thread is joined and every image still open is closed cleanly.
#pragma once

#include <napi.h>

namespace nestbox::binding {

// Adds the image functions and the DiskImageHandle class to `exports`.
void register_disk_image_binding(Napi::Env env, Napi::Object exports);

}  // namespace nestbox::binding
