/** What the serial console needs from the services (`vm.serial`, `vms.sendSerial`). */

export interface ConsoleConnection {
  /** Typed input for the guest, in order. Rejects when it could not be handed on. */
  write(text: string): Promise<void>;
  close(): void;
}

export interface ConsoleApi {
  /**
   * A VM's serial console: what it printed so far, then everything it prints. `end` is called
   * once if the connection ends on its own (the VM stopped, the link dropped), with a reason
   * for people ("the VM stopped.").
   */
  open(
    vmId: string,
    handlers: { data(bytes: Uint8Array): void; end(reason: string): void },
  ): ConsoleConnection;
  /**
   * Pasted text (`vms.sendSerial`): a request of its own, split and retried while the guest
   * reads. Without it a paste goes through the connection like typing.
   */
  paste?(vmId: string, text: string): Promise<void>;
}
