// Prints a Report in the format the options ask for (table, json, csv).
// Shared by trace, record and report, so all three print the same way.
#pragma once

#include <fstream>
#include <ostream>
#include <string>

#include "user/options.h"
#include "user/report.h"

namespace irqlat {

void print_report(std::ostream& os, const Report& r, const Options& opts);

// Where the tables go: standard output, or the -o file (created, or
// truncated, when this is built; UsageError if it cannot be).
class ReportOutput {
 public:
  explicit ReportOutput(const std::string& path);
  // print_report() there; a failed write is remembered with its errno, read
  // right after the flush that hit it.
  void print(const Report& r, const Options& opts);
  // Throws std::runtime_error ("cannot write 'F': No space left on device")
  // if a print failed: tables lost on a full disk or a closed stdout are an
  // error, never a silent exit 0.
  void check();
  // check(), then closes the file and checks the close too (NFS, quota).
  void finish();

 private:
  std::ostream& stream();
  std::string name() const;
  std::string path_;
  std::ofstream file_;
  int write_errno_ = 0;  // of the first failed print
};

// Throws like ReportOutput::check() if standard output lost a write.
void check_stdout();

}  // namespace irqlat
