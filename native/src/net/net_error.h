// Errors from the network layer, as NestboxError (so the binding maps them
// like any other) plus a net-specific kind the UI can key on: "host port in
// use" wants a different button than "bad address".
#pragma once

#include <string>
#include <string_view>

#include "common/nestbox_error.h"

namespace nestbox::net {

enum class NetErrorKind {
  InvalidConfig,     // an address, prefix or port that cannot work
  HostPortInUse,     // a port forward's host port is taken by another program
  HostPortDenied,    // binding it needs privileges (ports < 1024) or is refused
  HostPortFailed,    // the forward could not be set up for another reason
  BackendFailed,     // the network stack could not be created
};

constexpr std::string_view net_error_kind_name(NetErrorKind kind) {
  switch (kind) {
    case NetErrorKind::InvalidConfig: return "NET_INVALID_CONFIG";
    case NetErrorKind::HostPortInUse: return "NET_HOST_PORT_IN_USE";
    case NetErrorKind::HostPortDenied: return "NET_HOST_PORT_DENIED";
    case NetErrorKind::HostPortFailed: return "NET_HOST_PORT_FAILED";
    case NetErrorKind::BackendFailed: return "NET_BACKEND_FAILED";
  }
  return "NET_UNKNOWN";
}

class NetError : public NestboxError {
 public:
  NetError(NetErrorKind kind, const std::string& message)
      : NestboxError(kind == NetErrorKind::BackendFailed ? ErrorCode::InvalidState
                                                         : ErrorCode::InvalidConfig,
                     message),
        kind_(kind) {}

  [[nodiscard]] NetErrorKind kind() const { return kind_; }

 private:
  NetErrorKind kind_;
};

}  // namespace nestbox::net
