#include "binding/disk_image_binding.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "block/disk_image.h"
#include "block/image_tools.h"
#include "block/layer_merge.h"

namespace nestbox::binding {

namespace {

using block::DiskImage;
using block::DiskImageError;

// What a job hands back to the JS thread: builds the resolved value (or throws a
// Napi::Error to reject).
using Completion = std::function<Napi::Value(Napi::Env)>;
using Job = std::function<Completion()>;

struct Delivery {
  Napi::Promise::Deferred deferred;
  Completion completion;
};

Completion rejection(const std::exception& error) {
  std::string message = error.what();
  std::string code;
  if (const auto* image_error = dynamic_cast<const DiskImageError*>(&error)) {
    code = std::string(block::disk_image_error_code_name(image_error->code()));
  }
  return [message, code](Napi::Env env) -> Napi::Value {
    Napi::Error js_error = Napi::Error::New(env, message);
    if (!code.empty()) js_error.Set("code", code);
    throw js_error;
  };
}

void deliver(Napi::Env env, Napi::Function, std::nullptr_t*, Delivery* delivery);
using DeliveryFunction = Napi::TypedThreadSafeFunction<std::nullptr_t, Delivery, deliver>;

// One per JS environment: the image I/O thread and the images opened through handles.
class ImageWorker {
 public:
  explicit ImageWorker(Napi::Env env) {
    function_ = DeliveryFunction::New(env, "nestbox-image-io", 0, 1);
    function_.Unref(env);  // idle: do not keep the process alive
    thread_ = std::thread([this] { run(); });
  }

  ~ImageWorker() { stop(); }

  Napi::Promise submit(Napi::Env env, Job job) {
    auto deferred = Napi::Promise::Deferred::New(env);
    Napi::Promise promise = deferred.Promise();
    if (pending_++ == 0) function_.Ref(env);
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({std::move(job), new Delivery{std::move(deferred), {}}});
    }
    wake_.notify_one();
    return promise;
  }

  void finished(Napi::Env env) {
    if (--pending_ == 0) function_.Unref(env);
  }

  void track(const std::shared_ptr<DiskImage>& image) {
    std::lock_guard lock(mutex_);
    std::erase_if(open_images_, [](const std::weak_ptr<DiskImage>& weak) { return weak.expired(); });
    open_images_.push_back(image);
  }

  // Environment teardown: finish the running job, drop the rest, close every image.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    for (auto& [job, delivery] : queue_) delete delivery;
    queue_.clear();
    for (const std::weak_ptr<DiskImage>& weak : open_images_) {
      if (auto image = weak.lock()) {
        try {
          image->close();
        } catch (...) {
          // Teardown has nobody to tell; the dirty bit stays set and the next open repairs leaks.
        }
      }
    }
    function_.Release();
  }

 private:
  void run() {
    for (;;) {
      std::pair<Job, Delivery*> item;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        item.second->completion = item.first();
      } catch (const std::exception& error) {
        item.second->completion = rejection(error);
      }
      if (function_.NonBlockingCall(item.second) != napi_ok) delete item.second;
    }
  }

  DeliveryFunction function_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<Job, Delivery*>> queue_;
  std::vector<std::weak_ptr<DiskImage>> open_images_;
  bool stopping_ = false;
  int pending_ = 0;  // JS thread only
};

std::mutex workers_mutex;
std::map<napi_env, std::unique_ptr<ImageWorker>> workers;

ImageWorker& worker_for(Napi::Env env) {
  std::lock_guard lock(workers_mutex);
  auto found = workers.find(env);
  if (found != workers.end()) return *found->second;
  auto& worker = workers[env];
  worker = std::make_unique<ImageWorker>(env);
  env.AddCleanupHook([raw_env = static_cast<napi_env>(env)] {
    std::unique_ptr<ImageWorker> doomed;
    {
      std::lock_guard inner(workers_mutex);
      auto it = workers.find(raw_env);
      if (it == workers.end()) return;
      doomed = std::move(it->second);
      workers.erase(it);
    }
    doomed->stop();
  });
  return *worker;
}

void deliver(Napi::Env env, Napi::Function, std::nullptr_t*, Delivery* delivery) {
  std::unique_ptr<Delivery> owned(delivery);
  if (env == nullptr) return;  // tearing down
  {
    std::lock_guard lock(workers_mutex);
    auto found = workers.find(env);
    if (found != workers.end()) found->second->finished(env);
  }
  try {
    owned->deferred.Resolve(owned->completion(env));
  } catch (const Napi::Error& error) {
    owned->deferred.Reject(error.Value());
  } catch (const std::exception& error) {
    owned->deferred.Reject(Napi::Error::New(env, error.what()).Value());
  }
}

// ---------------------------------------------------------------------------
// Argument parsing (JS thread)

std::string string_arg(const Napi::CallbackInfo& info, std::size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsString() || info[index].As<Napi::String>().Utf8Value().empty()) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a non-empty string");
  }
  return info[index].As<Napi::String>().Utf8Value();
}

std::uint64_t u64_value(Napi::Env env, const Napi::Value& value, const char* what) {
  if (value.IsBigInt()) {
    bool lossless = false;
    const std::uint64_t result = value.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, std::string(what) + " is out of range");
    return result;
  }
  if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number or bigint");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0) || number > 9007199254740991.0 || number != static_cast<double>(static_cast<std::uint64_t>(number))) {
    throw Napi::RangeError::New(env, std::string(what) + " must be a non-negative integer");
  }
  return static_cast<std::uint64_t>(number);
}

std::vector<std::uint8_t> bytes_arg(const Napi::CallbackInfo& info, std::size_t index) {
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "data must be a Uint8Array");
  }
  const auto array = info[index].As<Napi::Uint8Array>();
  return std::vector<std::uint8_t>(array.Data(), array.Data() + array.ByteLength());
}

Napi::Value bytes_value(Napi::Env env, const std::vector<std::uint8_t>& bytes) {
  auto array = Napi::Uint8Array::New(env, bytes.size());
  std::copy(bytes.begin(), bytes.end(), array.Data());
  return array;
}

Napi::Value u64_number(Napi::Env env, std::uint64_t value) { return Napi::Number::New(env, static_cast<double>(value)); }

constexpr std::size_t kMaxTransfer = 64u << 20;

// ---------------------------------------------------------------------------
// Whole-file functions

Napi::Value image_create(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  block::CreateImageRequest request;
  request.path = string_arg(info, 0, "path");
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  const Napi::Object options = info[1].As<Napi::Object>();
  const Napi::Value format = options.Get("format");
  if (!format.IsUndefined()) {
    const std::string name = format.IsString() ? format.As<Napi::String>().Utf8Value() : "";
    if (name == "raw") {
      request.format = block::ImageFormat::Raw;
    } else if (name != "qcow2") {
      throw Napi::TypeError::New(env, "format must be 'qcow2' or 'raw'");
    }
  }
  if (!options.Get("size").IsUndefined()) request.virtual_size = u64_value(env, options.Get("size"), "size");
  if (!options.Get("clusterSize").IsUndefined()) {
    request.cluster_size = u64_value(env, options.Get("clusterSize"), "clusterSize");
  }
  if (options.Get("backingFile").IsString()) request.backing_file = options.Get("backingFile").As<Napi::String>().Utf8Value();
  if (options.Get("backingFormat").IsString()) {
    request.backing_format = options.Get("backingFormat").As<Napi::String>().Utf8Value();
  }
  return worker_for(env).submit(env, [request]() -> Completion {
    block::create_disk_image(request);
    return [](Napi::Env e) -> Napi::Value { return e.Undefined(); };
  });
}

Napi::Value image_info(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string path = string_arg(info, 0, "path");
  return worker_for(env).submit(env, [path]() -> Completion {
    const block::DiskImageInfo result = block::describe_disk_image(path);
    return [result](Napi::Env e) -> Napi::Value {
      Napi::Object out = Napi::Object::New(e);
      out.Set("path", result.path);
      out.Set("format", block::image_format_name(result.format));
      out.Set("virtualSize", u64_number(e, result.virtual_size));
      out.Set("fileSize", u64_number(e, result.file_size));
      out.Set("allocatedBytes", u64_number(e, result.allocated_bytes));
      if (result.format == block::ImageFormat::Qcow2) {
        out.Set("clusterSize", u64_number(e, result.cluster_size));
        out.Set("version", result.version);
        out.Set("refcountBits", result.refcount_bits);
        out.Set("compression", result.compression);
        out.Set("dirty", result.dirty);
        out.Set("corrupt", result.corrupt);
        out.Set("snapshots", result.snapshots);
        if (!result.backing_file.empty()) out.Set("backingFile", result.backing_file);
        if (!result.backing_format.empty()) out.Set("backingFormat", result.backing_format);
      }
      Napi::Array chain = Napi::Array::New(e, result.backing_chain.size());
      for (std::size_t i = 0; i < result.backing_chain.size(); ++i) {
        Napi::Object layer = Napi::Object::New(e);
        layer.Set("path", result.backing_chain[i].path);
        layer.Set("format", block::image_format_name(result.backing_chain[i].format));
        layer.Set("virtualSize", u64_number(e, result.backing_chain[i].virtual_size));
        chain.Set(static_cast<std::uint32_t>(i), layer);
      }
      out.Set("backingChain", chain);
      if (!result.backing_error.empty()) out.Set("backingError", result.backing_error);
      return out;
    };
  });
}

Napi::Value image_check(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string path = string_arg(info, 0, "path");
  return worker_for(env).submit(env, [path]() -> Completion {
    block::ImageCheckReport report = block::check_disk_image(path);
    report.result.references.clear();
    return [report](Napi::Env e) -> Napi::Value {
      Napi::Object out = Napi::Object::New(e);
      out.Set("format", block::image_format_name(report.format));
      out.Set("corruptions", u64_number(e, report.result.corruptions));
      out.Set("leaks", u64_number(e, report.result.leaks));
      out.Set("allocatedClusters", u64_number(e, report.result.allocated_clusters));
      out.Set("totalClusters", u64_number(e, report.result.total_clusters));
      out.Set("imageEndOffset", u64_number(e, report.result.image_end_offset));
      out.Set("status", report.result.exit_status());
      Napi::Array messages = Napi::Array::New(e, report.result.messages.size());
      for (std::size_t i = 0; i < report.result.messages.size(); ++i) {
        messages.Set(static_cast<std::uint32_t>(i), report.result.messages[i]);
      }
      out.Set("messages", messages);
      return out;
    };
  });
}

Napi::Value image_read(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string path = string_arg(info, 0, "path");
  const std::uint64_t offset = u64_value(env, info[1], "offset");
  const std::uint64_t length = u64_value(env, info[2], "length");
  if (length > kMaxTransfer) throw Napi::RangeError::New(env, "length must be at most 64 MiB");
  return worker_for(env).submit(env, [path, offset, length]() -> Completion {
    auto image = block::open_disk_image(path, {.read_only = true});
    auto bytes = std::make_shared<std::vector<std::uint8_t>>(length);
    image->read(offset, *bytes);
    image->close();
    return [bytes](Napi::Env e) -> Napi::Value { return bytes_value(e, *bytes); };
  });
}

Napi::Value image_write(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string path = string_arg(info, 0, "path");
  const std::uint64_t offset = u64_value(env, info[1], "offset");
  auto data = std::make_shared<std::vector<std::uint8_t>>(bytes_arg(info, 2));
  if (data->size() > kMaxTransfer) throw Napi::RangeError::New(env, "data must be at most 64 MiB");
  return worker_for(env).submit(env, [path, offset, data]() -> Completion {
    auto image = block::open_disk_image(path);
    image->write(offset, *data);
    image->close();
    return [](Napi::Env e) -> Napi::Value { return e.Undefined(); };
  });
}

// ---------------------------------------------------------------------------
// Snapshot layers.

// One imageMergeLayer call's link between the JS thread and the image I/O thread: the
// progress to report (only the latest value is kept, and at most one call to onProgress is
// queued at a time: a slow JS thread sees fewer, never stale, reports) and the cancel flag
// the signal's 'abort' listener sets. The JS references are released on the JS thread when
// the merge settles; at environment teardown they are left to the environment.
class MergeCall {
 public:
  std::stop_source stop;

  // JS thread.
  void start_progress(Napi::Env env, Napi::Function on_progress) {
    progress_ = Napi::ThreadSafeFunction::New(env, on_progress, "nestbox-merge-progress", 0, 1);
    has_progress_ = true;
  }

  // JS thread: cancel when `signal` aborts (the caller checked it is not aborted yet).
  void listen(Napi::Env env, Napi::Object signal, const std::shared_ptr<MergeCall>& self) {
    std::weak_ptr<MergeCall> weak = self;
    Napi::Function listener = Napi::Function::New(env, [weak](const Napi::CallbackInfo&) {
      if (auto call = weak.lock()) call->stop.request_stop();
    });
    signal.Get("addEventListener").As<Napi::Function>().Call(signal, {Napi::String::New(env, "abort"), listener});
    signal_ = Napi::Persistent(signal);
    signal_.SuppressDestruct();
    listener_ = Napi::Persistent(listener);
    listener_.SuppressDestruct();
  }

  // Image I/O thread.
  void report(std::uint64_t done, std::uint64_t total) {
    if (!has_progress_) return;
    std::lock_guard lock(mutex_);
    latest_ = {done, total};
    if (queued_) return;
    queued_ = true;
    auto self = self_.lock();
    if (!self) return;
    const napi_status status = progress_.NonBlockingCall([self](Napi::Env env, Napi::Function on_progress) {
      if (static_cast<napi_env>(env) != nullptr && !on_progress.IsEmpty()) self->deliver_progress(env, on_progress);
    });
    if (status != napi_ok) queued_ = false;
  }

  // Image I/O thread, when the merge has ended: no more reports.
  void end_progress() {
    if (!has_progress_) return;
    std::lock_guard lock(mutex_);
    if (!released_) {
      released_ = true;
      progress_.Release();
    }
  }

  // JS thread, as the promise settles: reports what was not reported yet (so the last value
  // seen is the last one sent), then no more; drops the abort listener.
  void settle(Napi::Env env, const Napi::Function& on_progress) {
    if (!on_progress.IsEmpty()) deliver_progress(env, on_progress);
    {
      std::lock_guard lock(mutex_);
      settled_ = true;
    }
    if (!signal_.IsEmpty()) {
      Napi::Object signal = signal_.Value();
      signal.Get("removeEventListener")
          .As<Napi::Function>()
          .Call(signal, {Napi::String::New(env, "abort"), listener_.Value()});
      signal_.Reset();
      listener_.Reset();
    }
  }

  // The signal's reason, for the cancelled error's `cause` (JS thread).
  Napi::Value abort_reason(Napi::Env env) const {
    return signal_.IsEmpty() ? env.Undefined() : signal_.Value().Get("reason");
  }

  void set_self(const std::shared_ptr<MergeCall>& self) { self_ = self; }

  ~MergeCall() { end_progress(); }

 private:
  struct Value {
    std::uint64_t done = 0;
    std::uint64_t total = 0;
  };

  void deliver_progress(Napi::Env env, const Napi::Function& on_progress) {
    Value value;
    {
      std::lock_guard lock(mutex_);
      queued_ = false;
      if (settled_ || !latest_ || (delivered_ && delivered_->done == latest_->done && delivered_->total == latest_->total)) {
        return;
      }
      value = *latest_;
      delivered_ = value;
    }
    // A throwing onProgress is the caller's bug; it must not become the merge's result.
    try {
      on_progress.Call({u64_number(env, value.done), u64_number(env, value.total)});
    } catch (const Napi::Error&) {
    }
  }

  std::mutex mutex_;
  std::weak_ptr<MergeCall> self_;
  Napi::ThreadSafeFunction progress_;
  bool has_progress_ = false;
  bool released_ = false;
  bool queued_ = false;
  bool settled_ = false;
  std::optional<Value> latest_;
  std::optional<Value> delivered_;
  Napi::ObjectReference signal_;
  Napi::FunctionReference listener_;
};

Napi::Error merge_cancelled_error(Napi::Env env, const std::string& message, Napi::Value reason) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("name", "AbortError");
  error.Set("code", "ABORT_ERR");
  if (!reason.IsUndefined()) error.Set("cause", reason);
  return error;
}

// imageMergeLayer(layerPath, childPath, { onProgress?, signal?, copyOnly? }), on the image
// I/O thread: merging a multi-GiB layer takes seconds, and the VM host that runs it must keep
// answering its clients meanwhile. A signal that aborts stops the merge between ranges; the
// promise then rejects with an AbortError (code ABORT_ERR, `cause` the signal's reason).
Napi::Value image_merge_layer(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string layer = string_arg(info, 0, "layerPath");
  const std::string child = string_arg(info, 1, "childPath");
  auto call = std::make_shared<MergeCall>();
  call->set_self(call);
  bool copy_only = false;
  Napi::Function on_progress;
  Napi::Object signal;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsObject()) throw Napi::TypeError::New(env, "imageMergeLayer: options must be an object");
    const Napi::Object options = info[2].As<Napi::Object>();
    const Napi::Value progress = options.Get("onProgress");
    if (!progress.IsUndefined()) {
      if (!progress.IsFunction()) throw Napi::TypeError::New(env, "imageMergeLayer: onProgress must be a function");
      on_progress = progress.As<Napi::Function>();
    }
    const Napi::Value abort_signal = options.Get("signal");
    if (!abort_signal.IsUndefined()) {
      if (!abort_signal.IsObject() || !abort_signal.As<Napi::Object>().Get("addEventListener").IsFunction() ||
          !abort_signal.As<Napi::Object>().Get("removeEventListener").IsFunction()) {
        throw Napi::TypeError::New(env, "imageMergeLayer: signal must be an AbortSignal");
      }
      signal = abort_signal.As<Napi::Object>();
    }
    const Napi::Value only = options.Get("copyOnly");
    if (!only.IsUndefined()) {
      if (!only.IsBoolean()) throw Napi::TypeError::New(env, "imageMergeLayer: copyOnly must be a boolean");
      copy_only = only.As<Napi::Boolean>().Value();
    }
  }
  if (!signal.IsEmpty() && signal.Get("aborted").ToBoolean().Value()) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(merge_cancelled_error(env, child + ": merging " + layer + " was cancelled before it started",
                                          signal.Get("reason"))
                        .Value());
    return deferred.Promise();
  }
  if (!on_progress.IsEmpty()) call->start_progress(env, on_progress);
  if (!signal.IsEmpty()) call->listen(env, signal, call);
  // onProgress is kept alive by the thread-safe function until end_progress, and called
  // once more from the completion below (on the JS thread, while still referenced).
  auto progress_reference = std::make_shared<Napi::FunctionReference>();
  if (!on_progress.IsEmpty()) {
    *progress_reference = Napi::Persistent(on_progress);
    progress_reference->SuppressDestruct();
  }
  return worker_for(env).submit(env, [layer, child, call, copy_only, progress_reference]() -> Completion {
    block::LayerMergeOptions options;
    options.stop = call->stop.get_token();
    options.copy_only = copy_only;
    MergeCall* const merge = call.get();
    options.progress = [merge](std::uint64_t done, std::uint64_t total) { merge->report(done, total); };
    auto finish = [call, progress_reference](Napi::Env e) {
      Napi::Function on_progress;
      if (!progress_reference->IsEmpty()) on_progress = progress_reference->Value();
      call->settle(e, on_progress);
      progress_reference->Reset();
    };
    try {
      const block::LayerMergeResult result = block::merge_layer_into_child(layer, child, options);
      call->end_progress();
      return [result, finish](Napi::Env e) -> Napi::Value {
        finish(e);
        Napi::Object out = Napi::Object::New(e);
        out.Set("bytesCopied", u64_number(e, result.bytes_copied));
        out.Set("clustersCopied", u64_number(e, result.clusters_copied));
        out.Set("alreadyMerged", result.already_merged);
        return out;
      };
    } catch (const block::LayerMergeCancelled& cancelled) {
      call->end_progress();
      const std::string message = cancelled.what();
      return [message, call, finish](Napi::Env e) -> Napi::Value {
        Napi::Value reason = call->abort_reason(e);
        finish(e);
        throw merge_cancelled_error(e, message, reason);
      };
    } catch (const std::exception& error) {
      call->end_progress();
      Completion reject = rejection(error);
      return [reject, finish](Napi::Env e) -> Napi::Value {
        finish(e);
        return reject(e);
      };
    }
  });
}

Napi::Value image_rebase(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string child = string_arg(info, 0, "childPath");
  std::string backing;
  if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) {
    backing = string_arg(info, 1, "backingPath (or null)");
  }
  try {
    block::rebase_backing_file(child, backing);
  } catch (const std::exception& error) {
    return rejection(error)(env);
  }
  return env.Undefined();
}

// ---------------------------------------------------------------------------
// DiskImageHandle

class DiskImageHandle : public Napi::ObjectWrap<DiskImageHandle> {
 public:
  static Napi::Function define_class(Napi::Env env) {
    return DefineClass(env, "DiskImageHandle",
                       {
                           InstanceMethod<&DiskImageHandle::read>("read"),
                           InstanceMethod<&DiskImageHandle::write>("write"),
                           InstanceMethod<&DiskImageHandle::write_zeroes>("writeZeroes"),
                           InstanceMethod<&DiskImageHandle::discard>("discard"),
                           InstanceMethod<&DiskImageHandle::flush>("flush"),
                           InstanceMethod<&DiskImageHandle::close>("close"),
                           InstanceAccessor<&DiskImageHandle::virtual_size>("virtualSize"),
                           InstanceAccessor<&DiskImageHandle::format>("format"),
                           InstanceAccessor<&DiskImageHandle::read_only>("readOnly"),
                       });
  }

  explicit DiskImageHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DiskImageHandle>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "DiskImageHandle is created by openDiskImage()");
    }
    image_ = *info[0].As<Napi::External<std::shared_ptr<DiskImage>>>().Data();
  }

 private:
  std::shared_ptr<DiskImage> image(Napi::Env env) const {
    if (!image_) throw Napi::Error::New(env, "the disk image is closed");
    return image_;
  }

  Napi::Value read(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    auto target = image(env);
    const std::uint64_t offset = u64_value(env, info[0], "offset");
    const std::uint64_t length = u64_value(env, info[1], "length");
    if (length > kMaxTransfer) throw Napi::RangeError::New(env, "length must be at most 64 MiB");
    return worker_for(env).submit(env, [target, offset, length]() -> Completion {
      auto bytes = std::make_shared<std::vector<std::uint8_t>>(length);
      target->read(offset, *bytes);
      return [bytes](Napi::Env e) -> Napi::Value { return bytes_value(e, *bytes); };
    });
  }

  Napi::Value write(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    auto target = image(env);
    const std::uint64_t offset = u64_value(env, info[0], "offset");
    auto data = std::make_shared<std::vector<std::uint8_t>>(bytes_arg(info, 1));
    if (data->size() > kMaxTransfer) throw Napi::RangeError::New(env, "data must be at most 64 MiB");
    return worker_for(env).submit(env, [target, offset, data]() -> Completion {
      target->write(offset, *data);
      return [](Napi::Env e) -> Napi::Value { return e.Undefined(); };
    });
  }

  Napi::Value range_operation(const Napi::CallbackInfo& info, bool zeroes) {
    const Napi::Env env = info.Env();
    auto target = image(env);
    const std::uint64_t offset = u64_value(env, info[0], "offset");
    const std::uint64_t length = u64_value(env, info[1], "length");
    return worker_for(env).submit(env, [target, offset, length, zeroes]() -> Completion {
      if (zeroes) {
        target->write_zeroes(offset, length);
      } else {
        target->discard(offset, length);
      }
      return [](Napi::Env e) -> Napi::Value { return e.Undefined(); };
    });
  }
  Napi::Value write_zeroes(const Napi::CallbackInfo& info) { return range_operation(info, true); }
  Napi::Value discard(const Napi::CallbackInfo& info) { return range_operation(info, false); }

  Napi::Value flush(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    auto target = image(env);
    return worker_for(env).submit(env, [target]() -> Completion {
      target->flush();
      return [](Napi::Env e) -> Napi::Value { return e.Undefined(); };
    });
  }

  // Idempotent; queued after any I/O already submitted.
  Napi::Value close(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    std::shared_ptr<DiskImage> target = std::move(image_);
    image_.reset();
    return worker_for(env).submit(env, [target]() -> Completion {
      if (target) target->close();
      return [](Napi::Env e) -> Napi::Value { return e.Undefined(); };
    });
  }

  Napi::Value virtual_size(const Napi::CallbackInfo& info) { return u64_number(info.Env(), size_); }
  Napi::Value format(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), format_); }
  Napi::Value read_only(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), read_only_); }

 public:
  void describe(const DiskImage& image) {
    size_ = image.virtual_size();
    format_ = block::image_format_name(image.format());
    read_only_ = image.read_only();
  }

 private:
  std::shared_ptr<DiskImage> image_;
  std::uint64_t size_ = 0;
  std::string format_;
  bool read_only_ = true;
};

Napi::FunctionReference* handle_constructor = nullptr;

Napi::Value open_disk_image(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string path = string_arg(info, 0, "path");
  bool read_only = false;
  if (info.Length() > 1 && info[1].IsObject()) {
    const Napi::Value value = info[1].As<Napi::Object>().Get("readOnly");
    read_only = value.IsBoolean() && value.As<Napi::Boolean>().Value();
  }
  ImageWorker& worker = worker_for(env);
  return worker.submit(env, [path, read_only, &worker]() -> Completion {
    std::shared_ptr<DiskImage> image = block::open_disk_image(path, {.read_only = read_only});
    worker.track(image);
    return [image](Napi::Env e) -> Napi::Value {
      auto holder = std::make_shared<std::shared_ptr<DiskImage>>(image);
      Napi::Object handle = handle_constructor->New({Napi::External<std::shared_ptr<DiskImage>>::New(e, holder.get())});
      DiskImageHandle::Unwrap(handle)->describe(*image);
      return handle;
    };
  });
}

}  // namespace

void register_disk_image_binding(Napi::Env env, Napi::Object exports) {
  exports.Set("imageCreate", Napi::Function::New<image_create>(env, "imageCreate"));
  exports.Set("imageInfo", Napi::Function::New<image_info>(env, "imageInfo"));
  exports.Set("imageCheck", Napi::Function::New<image_check>(env, "imageCheck"));
  exports.Set("imageRead", Napi::Function::New<image_read>(env, "imageRead"));
  exports.Set("imageWrite", Napi::Function::New<image_write>(env, "imageWrite"));
  exports.Set("imageMergeLayer", Napi::Function::New<image_merge_layer>(env, "imageMergeLayer"));
  exports.Set("imageRebase", Napi::Function::New<image_rebase>(env, "imageRebase"));
  exports.Set("openDiskImage", Napi::Function::New<open_disk_image>(env, "openDiskImage"));
  Napi::Function constructor = DiskImageHandle::define_class(env);
  // One constructor reference per process is enough for the handles we create;
  // kept in the environment's instance data would collide with other bindings.
  auto* reference = new Napi::FunctionReference(Napi::Persistent(constructor));
  env.AddCleanupHook([reference] { delete reference; });
  handle_constructor = reference;
  exports.Set("DiskImageHandle", constructor);
}

}  // namespace nestbox::binding
