// Native failures as JavaScript errors: the message, plus `code` (e.g.
// "KERNEL_NOT_FOUND") for NestboxErrors so callers can branch without parsing text.
#pragma once

#include <napi.h>

#include <exception>

namespace nestbox::binding {

Napi::Error to_js_error(Napi::Env env, const std::exception& error);

}  // namespace nestbox::binding
