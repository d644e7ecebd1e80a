// Loads the metrics plugin (see metrics_server.h). It is looked up next to
// the running binary (the build tree: build/irqlat, build/irqlat-metrics.so)
// and then in ../lib/irqlat/ from it (`make install`: PREFIX/sbin/irqlat,
// PREFIX/lib/irqlat/irqlat-metrics.so), never on LD_LIBRARY_PATH. The daemon
// runs as root, so the file must be one only root or the binary's owner can
// have written: a root-run copy of irqlat in /tmp must not load a plugin
// another user dropped next to it. It is checked and loaded through the same
// open descriptor, so it cannot be swapped in between.
#include "user/metrics_server.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "loader/regular_file.h"

namespace irqlat {
namespace {

[[noreturn]] void fail(const std::string& why) { throw std::runtime_error("cannot serve metrics: " + why); }

struct Candidates {
  std::vector<std::filesystem::path> paths;
  uid_t exe_owner;
};

Candidates plugin_candidates() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) fail("/proc/self/exe: " + ec.message());
  struct stat st;
  if (::stat("/proc/self/exe", &st) != 0) fail(std::string("/proc/self/exe: ") + std::strerror(errno));
  const auto dir = exe.parent_path();
  return {{dir / kMetricsPluginName, (dir / ".." / "lib" / "irqlat" / kMetricsPluginName).lexically_normal()},
          st.st_uid};
}

// The plugin's descriptor once it is a regular file owned by root or by the
// binary's owner and writable by nobody else; -1 if there is no such file.
int open_trusted(const std::filesystem::path& path, uid_t exe_owner) {
  const RegularFile f = open_regular_file(path.string(), O_RDONLY | O_NOFOLLOW);
  if (f.fd < 0 && f.error == ENOENT) return -1;
  if (f.fd < 0) fail(path.string() + ": " + (f.error == ELOOP ? "a symbolic link" : f.why()) + "; not loaded");
  const int fd = f.fd;
  const struct stat& st = f.st;
  std::string why;
  if (st.st_uid != 0 && st.st_uid != exe_owner)
    why = "owned by uid " + std::to_string(st.st_uid) + ", neither root nor the owner of irqlat";
  else if (st.st_mode & (S_IWGRP | S_IWOTH))
    why = "writable by group or others";
  if (!why.empty()) {
    ::close(fd);
    fail(path.string() + ": " + why + "; not loaded");
  }
  return fd;
}

// dlerror() names the file as dlopen got it ("/proc/self/fd/N: invalid ELF
// header"), which tells the reader nothing: that name is cut off, the caller
// puts the real path in front.
std::string without_name(std::string error, const std::string& fd_path) {
  if (error.starts_with(fd_path + ": ")) error.erase(0, fd_path.size() + 2);
  return error;
}

MetricsPluginEntry load_plugin() {
  const Candidates c = plugin_candidates();
  std::string tried;
  for (const auto& path : c.paths) {
    const int fd = open_trusted(path, c.exe_owner);
    if (fd < 0) {
      tried += (tried.empty() ? "" : ", ") + path.string();
      continue;
    }
    // Never closed: the server's code and vtable live in it until exit.
    const std::string fd_path = "/proc/self/fd/" + std::to_string(fd);
    void* handle = ::dlopen(fd_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    ::close(fd);
    if (!handle) fail(path.string() + ": " + without_name(::dlerror(), fd_path) + "; not loaded");
    const auto* abi = static_cast<const char*>(::dlsym(handle, IRQLAT_METRICS_STR(IRQLAT_METRICS_ABI_SYMBOL)));
    void* entry = ::dlsym(handle, IRQLAT_METRICS_STR(IRQLAT_METRICS_ENTRY));
    if (!abi || !entry || std::strcmp(abi, IRQLAT_METRICS_ABI) != 0)
      fail(path.string() + " is from another build of irqlat (" + (abi ? abi : "no ABI string") +
           "; this one: " IRQLAT_METRICS_ABI ")");
    return reinterpret_cast<MetricsPluginEntry>(entry);
  }
  fail("the plugin " + std::string(kMetricsPluginName) + " is not installed (looked for " + tried + ")");
}

}  // namespace

std::unique_ptr<MetricsServer> open_metrics_server(const std::string& addr) {
  return std::unique_ptr<MetricsServer>(load_plugin()(addr));
}

}  // namespace irqlat
