// See stop_worker.h.
#include "user/stop_worker.h"

#include <pthread.h>
#include <sched.h>

#include <exception>

namespace irqlat {

StopWorker::StopWorker(const std::function<void()>& setup) {
  thread_ = std::thread([this, &setup] { main(setup); });
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return ready_; });
}

StopWorker::~StopWorker() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StopWorker::main(const std::function<void()>& setup) {
  // The lowest real-time priority is above every normal task; RT throttling
  // still bounds it. Only this thread: the rest of the daemon stays normal.
  sched_param sp{};
  sp.sched_priority = 1;
  const bool fifo = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
  std::string error;
  try {
    setup();
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::unique_lock lock(mu_);
  fifo_ = fifo;
  setup_error_ = error;
  ready_ = true;
  cv_.notify_all();
  cv_.wait(lock, [this] { return quit_ || job_; });
  if (!job_) return;
  std::function<void()> job = std::move(job_);
  lock.unlock();
  try {
    job();
  } catch (...) {
    job_error_ = std::current_exception();
  }
  lock.lock();
  done_ = true;
  cv_.notify_all();
}

void StopWorker::run(std::function<void()> job) {
  std::unique_lock lock(mu_);
  job_ = std::move(job);
  cv_.notify_all();
  cv_.wait(lock, [this] { return done_; });
  if (job_error_) std::rethrow_exception(job_error_);
}

}  // namespace irqlat
