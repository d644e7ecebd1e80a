// /metrics over HTTP, for Prometheus. The HTTP server (cpp-httplib, which
// pulls in OpenSSL and brotli) lives in a plugin, irqlat-metrics.so, loaded
// only by a daemon started with --metrics: every other run of irqlat starts
// without those libraries (~5 ms of loading and relocation each time).
//
// The HTTP threads never touch the daemon's state: a scrape posts a request
// to the daemon's loop (which watches fd()) and waits for the body it
// renders there.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "user/version.h"

namespace irqlat {

class MetricsServer {
 public:
  virtual ~MetricsServer() = default;

  // Starts the HTTP threads. The daemon calls it after its capability drop:
  // capabilities are per thread, and threads created later inherit the
  // reduced sets and no_new_privs.
  virtual void start() = 0;
  virtual int fd() const = 0;  // readable when scrapes wait
  // On the daemon's loop: answers every waiting scrape with render().
  virtual void serve_pending(const std::function<std::string()>& render) = 0;
  // Stops listening and fails waiting scrapes. Does not wait for HTTP
  // threads stuck on slow clients: the process is about to exit.
  virtual void shutdown() = 0;
};

// addr is "HOST:PORT" ("[::1]:9100", "127.0.0.1:9100", ":9100" = every
// address). Loads the plugin and binds now (a port below 1024 needs the
// privileges the daemon drops later); throws std::runtime_error when either
// fails. No thread runs until start().
std::unique_ptr<MetricsServer> open_metrics_server(const std::string& addr);

inline constexpr const char* kMetricsPluginName = "irqlat-metrics.so";

// The plugin's two exports (user/plugins/metrics_http.cpp defines them with
// these names, the loader looks them up by their strings): the entry point,
// with the interface version in its name, and a string naming the build it
// belongs to. A C++ class, std::string and std::function cross the boundary,
// so a plugin of another interface version, irqlat version or compiler is
// refused before it is called.
#define IRQLAT_METRICS_ENTRY irqlat_metrics_server_v1
#define IRQLAT_METRICS_ABI_SYMBOL irqlat_metrics_abi
#define IRQLAT_METRICS_STR_(x) #x
#define IRQLAT_METRICS_STR(x) IRQLAT_METRICS_STR_(x)
#define IRQLAT_METRICS_ABI IRQLAT_METRICS_STR(IRQLAT_METRICS_ENTRY) " " IRQLAT_VERSION " " __VERSION__
using MetricsPluginEntry = MetricsServer* (*)(const std::string& addr);

}  // namespace irqlat
