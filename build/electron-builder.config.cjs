// electron-builder configuration: `npm run dist` makes release/Nestbox-<version>.AppImage and
// release/nestbox_<version>_amd64.deb from what scripts/build.mjs put in dist/.
// Checked by electron/main/packaging-config.test.ts against electron-builder's own schema.

/** Desktop file name, Wayland app_id and X11 WM_CLASS all follow from this one name. */
const desktopId = 'org.nestbox.Nestbox';

/** @type {import('app-builder-lib').Configuration} */
const config = {
  appId: desktopId,
  productName: 'Nestbox',
  // Electron derives its app_id / WM_CLASS from package.json's desktopName; set it in the
  // packaged copy so the running window matches the .desktop entry below.
  extraMetadata: { desktopName: `${desktopId}.desktop` },
  directories: { output: 'release', buildResources: 'build' },
  // Everything the app runs is built into dist/; sources and node_modules stay out
  // (the bundles include their dependencies).
  files: ['dist/**', '!dist/**/*.map', 'package.json'],
  // The KVM core is dlopen()ed and cannot be loaded from inside app.asar.
  // The VM host opens these with plain file I/O: the addon, and the demo guest's kernel.
  asarUnpack: ['dist/native/*.node', 'dist/demo/*'],
  // N-API is ABI-stable across Node and Electron: the addon built by build.mjs is used as is.
  npmRebuild: false,
  nodeGypRebuild: false,
  linux: {
    target: ['AppImage', 'deb'],
    executableName: 'nestbox',
    icon: 'build/icons',
    category: 'System;Emulator;',
    synopsis: 'Virtual machines on KVM',
    description:
      'Nestbox is a desktop virtual-machine workstation: create, run and snapshot virtual ' +
      'machines on KVM with its own device models.',
    syncDesktopName: true,
    desktop: {
      entry: {
        Name: 'Nestbox',
        GenericName: 'Virtual Machine Manager',
        Comment: 'Create and run virtual machines',
        StartupWMClass: desktopId,
        Keywords: 'VM;virtual machine;KVM;',
      },
    },
  },
  deb: {
    // Exec=… %F: a VM folder handed over by the file manager ("Open With" → Other Application)
    // or a launcher arrives as a local path, which is what a VM folder must be. No
    // MimeType=inode/directory: on several desktops an app listing it can become the default
    // opener of every folder (docs/ARCHITECTURE.md, "Packaging").
    // The AppImage keeps electron-builder's `AppRun --no-sandbox %U`; file:// URLs are accepted.
    executableArgs: ['%F'],
    // Electron's runtime libraries, plus what the KVM core links: zlib and zstd (compressed
    // qcow2 clusters) and libslirp (user-mode networking). The kvm group note is in after-install.
    depends: [
      'zlib1g',
      'libzstd1',
      'libslirp0',
      'libgtk-3-0',
      'libnss3',
      'libgbm1',
      'libasound2 | libasound2t64',
      'libxtst6',
      'libatspi2.0-0',
      'xdg-utils',
    ],
    afterInstall: 'build/linux/after-install.sh',
    priority: 'optional',
  },
  appImage: {
    artifactName: '${productName}-${version}-${arch}.${ext}',
  },
};

module.exports = config;
