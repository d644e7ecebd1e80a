// Loads the metrics plugin (see metrics_server.h). It is looked up next to
// the running binary (the build tree: build/irqlat, build/irqlat-metrics.so)
// and then in ../lib/irqlat/ from it (`make install`: PREFIX/sbin/irqlat,
// PREFIX/lib/irqlat/irqlat-metrics.so), never on LD_LIBRARY_PATH: the
// daemon runs as root.
#include "user/metrics_server.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace irqlat {
namespace {

std::vector<std::filesystem::path> plugin_candidates() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot serve metrics: /proc/self/exe: " + ec.message());
  const auto dir = exe.parent_path();
  return {dir / kMetricsPluginName, (dir / ".." / "lib" / "irqlat" / kMetricsPluginName).lexically_normal()};
}

MetricsPluginEntry load_plugin() {
  std::string tried;
  for (const auto& path : plugin_candidates()) {
    if (::access(path.c_str(), F_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path.string();
      continue;
    }
    // Never closed: the server's code and vtable live in it until exit.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) throw std::runtime_error(std::string("cannot serve metrics: ") + ::dlerror());
    void* sym = ::dlsym(handle, IRQLAT_METRICS_PLUGIN_ENTRY);
    if (!sym)
      throw std::runtime_error("cannot serve metrics: " + path.string() + " has no " IRQLAT_METRICS_PLUGIN_ENTRY
                               " (a plugin from another irqlat build?)");
    return reinterpret_cast<MetricsPluginEntry>(sym);
  }
  throw std::runtime_error("cannot serve metrics: the plugin " + std::string(kMetricsPluginName) +
                           " is not installed (looked for " + tried + ")");
}

}  // namespace

std::unique_ptr<MetricsServer> open_metrics_server(const std::string& addr) {
  return std::unique_ptr<MetricsServer>(load_plugin()(addr));
}

}  // namespace irqlat
