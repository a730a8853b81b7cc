#include "machine/vcpu_kick.h"

#include <csignal>
#include <mutex>

namespace nestbox {

namespace {

// Not SIGUSR1 (Node uses it for the inspector) nor SIGRTMIN itself (a common
// choice of other libraries); any signal only ever sent to our own threads will do.
int kick_signal() { return SIGRTMIN + 5; }

void ignore_kick(int) {}

}  // namespace

void install_vcpu_kick_handler() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction action{};
    action.sa_handler = ignore_kick;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
    sigaction(kick_signal(), &action, nullptr);
  });
}

void unblock_vcpu_kick_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void send_vcpu_kick(pthread_t thread) { pthread_kill(thread, kick_signal()); }

}  // namespace nestbox
