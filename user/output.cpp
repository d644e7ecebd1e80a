// See output.h.
#include "user/output.h"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "user/format.h"
#include "user/parse.h"

namespace irqlat {
namespace {

// Called right after the print that failed: errno is then what its
// write() left (formatting makes no system calls).
void check_stream(std::ostream& os, const std::string& what) {
  if (os) {
    errno = 0;
    os.flush();
  }
  if (!os) {
    const int err = errno;
    throw std::runtime_error("cannot write " + what + ": " + (err ? std::strerror(err) : "write failed"));
  }
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

ReportOutput::ReportOutput(const std::string& path) : path_(path) {
  if (path.empty()) return;
  file_.open(path, std::ios::out | std::ios::trunc);
  if (!file_) throw UsageError("cannot write '" + path + "': " + std::strerror(errno));
}

std::ostream& ReportOutput::stream() { return path_.empty() ? std::cout : file_; }

void ReportOutput::check() {
  if (path_.empty())
    check_stdout();
  else
    check_stream(file_, "'" + path_ + "'");
}

void ReportOutput::finish() {
  check();
  if (path_.empty()) return;
  errno = 0;
  file_.close();
  if (file_.fail())
    throw std::runtime_error("cannot write '" + path_ + "': " + (errno ? std::strerror(errno) : "close failed"));
}

void check_stdout() { check_stream(std::cout, "standard output"); }

}  // namespace irqlat
