# The `nestbox` addon: node-addon-api with C++ exceptions, C++20, warnings as
# errors, hidden visibility and hardening flags.
{
  'variables': {
    'nestbox_version': '<!(node -p "require(\'../package.json\').version")',
  },
  'targets': [
    {
      'target_name': 'nestbox',
      # Every source under src/, like the unit-test Makefile (which leaves out
      # only src/binding/): a new file cannot be forgotten in one of them.
      'sources': [
        '<!@(find src -name "*.cc" | LC_ALL=C sort)',
      ],
      'include_dirs': [
        'src',
        '<!(node -p "require(\'node-addon-api\').include_dir")',
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
        'NESTBOX_VERSION="<(nestbox_version)"',
        '_FORTIFY_SOURCE=2',
      ],
      # gyp's defaults turn exceptions and RTTI off and pick an older standard.
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++1y', '-std=gnu++14'],
      'cflags': [
        '-Wall',
        '-Wextra',
        '-Werror',
        '-fvisibility=hidden',
        '-fstack-protector-strong',
        '-fPIC',
      ],
      'cflags_cc': [
        '-std=c++20',
        '-fexceptions',
        '-frtti',
        '-fvisibility-inlines-hidden',
      ],
      # zlib and zstd decompress qcow2 compressed clusters (src/block);
      # libslirp is the user-mode network stack (src/net).
      'libraries': ['-lz', '-lzstd', '-lslirp'],
      'ldflags': [
        '-Wl,-z,relro',
        '-Wl,-z,now',
        '-Wl,-z,noexecstack',
      ],
    },
  ],
}
