#!/usr/bin/env node
// The VM host that `nestbox serve` launches in the e2e tests (NESTBOX_VM_HOST points here): the
// real host process around the scripted machine of electron/serve/testing, which needs no
// /dev/kvm. That file is TypeScript, and NESTBOX_VM_HOST names a script plain Node runs, so
// this shim registers tsx first. The host's arguments (--vm-folder, --report-fd) pass through.
import { tsImport } from 'tsx/esm/api';

await tsImport('../../electron/serve/testing/scripted-vm-host-main.ts', import.meta.url);
