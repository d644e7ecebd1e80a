// The daemon's stop runs on a thread that waits at SCHED_FIFO 1.
//
// Most of a stop is the kernel detaching tracepoint programs: each detach
// sleeps on IPIs, and a normal-priority thread then waits for a CPU behind
// the load it watches after every one of them (under the bench mix, nice -10
// took about twice as long as SCHED_FIFO 1). The daemon drops CAP_SYS_NICE
// once started, so it cannot take that priority at stop time; this thread
// takes it while the process still may, drops its capabilities like every
// other thread, and sleeps (costing nothing) until run() hands it the stop.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace irqlat {

class StopWorker {
 public:
  // Starts the thread and waits until it has tried SCHED_FIFO 1 and run
  // setup (the capability drop) on itself. setup may throw: its message is
  // kept in setup_error() and the worker still runs jobs.
  explicit StopWorker(const std::function<void()>& setup);
  ~StopWorker();
  StopWorker(const StopWorker&) = delete;
  StopWorker& operator=(const StopWorker&) = delete;

  // "SCHED_FIFO 1", or "normal priority" when it was refused.
  const char* priority() const { return fifo_ ? "SCHED_FIFO 1" : "normal priority"; }
  const std::string& setup_error() const { return setup_error_; }
  // Runs job on the worker and waits for it to return (at most once; a job
  // that throws is rethrown here).
  void run(std::function<void()> job);

 private:
  void main(const std::function<void()>& setup);

  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false, done_ = false, quit_ = false;
  bool fifo_ = false;
  std::string setup_error_;
  std::function<void()> job_;
  std::exception_ptr job_error_;
  std::thread thread_;
};

}  // namespace irqlat
