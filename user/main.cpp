// irqlat: interrupt and scheduling latency tracer. Dispatches the commands
// and turns errors into one line on stderr and an exit status:
// 2 for bad input, 1 for everything else.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "user/options.h"
#include "user/record_cmd.h"
#include "user/report_cmd.h"
#include "user/daemon_cmd.h"
#include "user/log.h"
#include "user/ctl_cmd.h"
#include "user/trace_cmd.h"

using namespace irqlat;

// Started with stdin, stdout or stderr closed (`irqlat ... >&-`), the next
// open() would take that number: the recording would become "stdout" and
// the tables would be written into it. /dev/null read-only holds the place,
// so a write there fails (EBADF) and is reported like any lost write.
static void hold_standard_fds() {
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      const int n = open("/dev/null", O_RDONLY);
      if (n >= 0 && n != fd) close(n);  // taken meanwhile: nothing to hold
    }
}

// The one line every failure ends in; the status it exits with.
static int fail(const std::exception& e, int status) {
  fprintf(stderr, "irqlat: %s\n", printable(e.what()).c_str());
  return status;
}

int main(int argc, char** argv) {
  hold_standard_fds();
  Options opts;
  try {
    opts = parse_options(argc, argv, libbpf_num_possible_cpus());
  } catch (const HelpRequested& h) {
    std::cout << h.text();
    return 0;
  } catch (const UsageError& e) {
    return fail(e, 2);
  }
  try {
    switch (opts.command) {
      case Command::Trace:
        return run_trace(opts);
      case Command::Record:
        return run_record(opts, std::vector<std::string>(argv, argv + argc));
      case Command::Report:
        return run_report(opts);
      case Command::Daemon:
        return run_daemon(opts);
      case Command::Ctl:
        return run_ctl(opts);
      default:
        fprintf(stderr, "irqlat: no command given\n");
        return 2;
    }
  } catch (const UsageError& e) {
    return fail(e, 2);
  } catch (const std::exception& e) {  // LoaderError and the rest
    return fail(e, 1);
  }
}
