// See output.h.
#include "user/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "user/format.h"
#include "user/parse.h"

namespace irqlat {
namespace {

[[noreturn]] void write_failed(const std::string& what, int err, const char* fallback) {
  throw std::runtime_error("cannot write " + what + ": " + (err ? std::strerror(err) : fallback));
}

}  // namespace

void print_report(std::ostream& os, const Report& r, const Options& opts) {
  switch (opts.format) {
    case OutputFormat::Json:
      write_json(os, r);
      break;
    case OutputFormat::Csv:
      write_csv(os, r);
      break;
    default: {
      TableOptions t;
      t.top = opts.top;
      write_table(os, r, t);
    }
  }
  os.flush();
}

ReportOutput::ReportOutput(const std::string& path) : path_(path == "-" ? "" : path) {  // "-": stdout
  if (path_.empty()) return;
  // Tables may go to a FIFO that something reads; one nobody reads would
  // block the open (before tracing starts) for good, so it is refused.
  // The probe stays open until the stream has opened too: closed before, it
  // would leave the reader it woke with no writer, and so an end of file.
  struct stat st;
  int probe = -1;
  if (stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
    probe = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (probe < 0)
      throw UsageError("cannot write '" + path + "': " +
                       (errno == ENXIO ? std::string("a FIFO nobody reads") : std::strerror(errno)));
  }
  file_.open(path, std::ios::out | std::ios::trunc);
  const int open_errno = errno;
  if (probe >= 0) ::close(probe);
  errno = open_errno;
  if (!file_) throw UsageError("cannot write '" + path + "': " + std::strerror(errno));
}

std::ostream& ReportOutput::stream() { return path_.empty() ? std::cout : file_; }

std::string ReportOutput::name() const { return path_.empty() ? "standard output" : "'" + path_ + "'"; }

void ReportOutput::print(const Report& r, const Options& opts) {
  std::ostream& os = stream();
  if (!os) return;  // failed before: nothing more gets through
  errno = 0;
  print_report(os, r, opts);  // ends with a flush
  if (!os) write_errno_ = errno;
}

void ReportOutput::check() {
  if (!stream()) write_failed(name(), write_errno_, "write failed");
}

void ReportOutput::finish() {
  check();
  if (path_.empty()) return;
  errno = 0;
  file_.close();
  if (file_.fail()) write_failed(name(), errno, "close failed");
}

void check_stdout() {
  errno = 0;
  if (!std::cout.flush()) write_failed("standard output", errno, "write failed");
}

}  // namespace irqlat
