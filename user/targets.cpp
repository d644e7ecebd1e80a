// See targets.h.
#include "user/targets.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "user/log.h"
#include "user/parse.h"

namespace irqlat {
namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Field of /proc/PID/status, "" if absent.
std::string status_field(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) {
      auto v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "";
}

}  // namespace

void require_process(int pid) {
  std::string tgid = status_field(pid, "Tgid");
  if (tgid.empty()) throw UsageError("pid " + std::to_string(pid) + " does not exist");
  if (std::atoi(tgid.c_str()) != pid)
    throw UsageError("pid " + std::to_string(pid) + " is a thread of process " + tgid +
                     ": use -t for a thread or -p " + tgid);
  if (status_field(pid, "State").rfind("Z", 0) == 0)
    throw UsageError("pid " + std::to_string(pid) + " has exited (zombie)");
}

void require_thread(int tid) {
  tgid_of_thread(tid);
  if (status_field(tid, "State").rfind("Z", 0) == 0)
    throw UsageError("thread " + std::to_string(tid) + " has exited (zombie)");
}

int tgid_of_thread(int tid) {
  std::string tgid = status_field(tid, "Tgid");
  if (tgid.empty()) throw UsageError("thread " + std::to_string(tid) + " does not exist");
  return std::atoi(tgid.c_str());
}

std::string process_exe(int pid) {
  char buf[4096];
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = 0;
  std::string s(buf);
  const std::string deleted = " (deleted)";
  if (s.size() > deleted.size() && s.compare(s.size() - deleted.size(), deleted.size(), deleted) == 0)
    s.resize(s.size() - deleted.size());
  return s;
}

unsigned long long process_start_time(int pid) {
  std::string stat = read_first_line("/proc/" + std::to_string(pid) + "/stat");
  // Field 22; comm (field 2) may hold spaces, so count from the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; i++)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

std::vector<ThreadName> process_threads(int pid) {
  std::vector<ThreadName> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    int tid = std::atoi(e->d_name);
    if (tid > 0) out.push_back({tid, read_first_line(dir + "/" + e->d_name + "/comm")});
  }
  closedir(d);
  return out;
}

std::vector<int> processes_by_comm(const std::string& name) {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid > 0 && pid != getpid() &&
        read_first_line("/proc/" + std::to_string(pid) + "/comm") == name)
      out.push_back(pid);
  }
  closedir(d);
  return out;
}

bool alive(int pid) {
  std::string state = status_field(pid, "State");
  return !state.empty() && state[0] != 'Z' && state[0] != 'X';
}

std::string resolve_command(const std::string& command) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (command.empty()) throw UsageError("empty command after --");
  if (command.find('/') != std::string::npos) {
    if (!executable(command)) {
      struct stat st;
      const char* why = stat(command.c_str(), &st) != 0 ? std::strerror(errno)
                        : S_ISDIR(st.st_mode)           ? "is a directory"
                        : !S_ISREG(st.st_mode)          ? "not a regular file"
                                                        : "not executable";
      throw UsageError("cannot run '" + command + "': " + why);
    }
    char* real = realpath(command.c_str(), nullptr);
    std::string r = real ? real : command;
    free(real);
    return r;
  }
  const char* path = getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string p = (dir.empty() ? "." : dir) + "/" + command;
    if (executable(p)) return p;
  }
  throw UsageError("cannot run '" + command + "': command not found in PATH");
}

LaunchedCommand::LaunchedCommand(const std::vector<std::string>& argv) {
  path_ = resolve_command(argv.at(0));
  const std::string shown = printable(path_);  // for the child's error line
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid_ == 0) {
    // Child: wait for the tracer to attach (the write end closes), then exec.
    close(gate[1]);
    char c;
    while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
    }
    // The command starts as it would without us: our blocked stop signals
    // and ignored SIGPIPE would otherwise survive the exec.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(path_.c_str(), args.data());
    fprintf(stderr, "irqlat: cannot run '%s': %s\n", shown.c_str(), strerror(errno));
    _exit(127);
  }
  close(gate[0]);
  gate_fd_ = gate[1];
}

LaunchedCommand::~LaunchedCommand() {
  if (gate_fd_ >= 0) kill_and_reap();
}

void LaunchedCommand::release() {
  if (gate_fd_ >= 0) close(gate_fd_);
  gate_fd_ = -1;
}

bool LaunchedCommand::reap(int* status) {
  if (reaped_) return true;
  pid_t r = waitpid(pid_, status, WNOHANG);
  if (r == pid_) reaped_ = true;
  return reaped_;
}

void LaunchedCommand::kill_and_reap() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
    reaped_ = true;
  }
  release();
}

}  // namespace irqlat
