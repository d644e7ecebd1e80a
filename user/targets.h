// Target processes and threads: checking that they exist, naming them, and
// starting `-- COMMAND` held at a gate until tracing is attached.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace irqlat {

// Throws UsageError "pid N does not exist" (or "... is a kernel thread").
void require_process(int pid);
// Returns the tgid of thread TID; throws UsageError if there is no such thread.
int tgid_of_thread(int tid);
// Throws UsageError unless TID is a live thread (not a zombie).
void require_thread(int tid);
// /proc/PID/exe resolved, "" if unreadable.
std::string process_exe(int pid);
// Start time of a process in clock ticks since boot (tells PID reuse apart).
unsigned long long process_start_time(int pid);
// Thread ids and comm of every thread of PID right now.
struct ThreadName {
  int tid;
  std::string comm;
};
std::vector<ThreadName> process_threads(int pid);
// Every process whose comm is NAME.
std::vector<int> processes_by_comm(const std::string& name);
// True while the process (or thread) still exists and is not a zombie.
bool alive(int pid);
// Looks COMMAND up in PATH like execvp; throws UsageError if not found.
std::string resolve_command(const std::string& command);

// A child process forked from COMMAND, stopped before exec until release().
class LaunchedCommand {
 public:
  explicit LaunchedCommand(const std::vector<std::string>& argv);
  ~LaunchedCommand();
  LaunchedCommand(const LaunchedCommand&) = delete;
  LaunchedCommand& operator=(const LaunchedCommand&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& path() const { return path_; }
  void release();           // lets the child exec
  bool reap(int* status);   // non-blocking waitpid; true once it has exited
  void kill_and_reap();     // on error paths

 private:
  pid_t pid_ = -1;
  int gate_fd_ = -1;  // write end: closing it lets the child exec
  std::string path_;
  bool reaped_ = false;
};

}  // namespace irqlat
