// Getting a vCPU thread out of KVM_RUN: a real-time signal with an empty
// handler makes the ioctl return EINTR. Paired with kvm_run.immediate_exit it
// cannot be lost, even when it arrives just before the thread enters KVM_RUN.
#pragma once

#include <pthread.h>

namespace nestbox {

// Installs the handler once per process; call before any vCPU thread starts.
void install_vcpu_kick_handler();
// Makes sure the calling thread can receive the kick signal.
void unblock_vcpu_kick_signal();
void send_vcpu_kick(pthread_t thread);

}  // namespace nestbox
