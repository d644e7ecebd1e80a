// StopWorker (user/stop_worker.h): the daemon's stop thread.
#include <catch2/catch.hpp>

#include <pthread.h>
#include <sched.h>

#include <stdexcept>
#include <thread>

#include "user/stop_worker.h"

using irqlat::StopWorker;

TEST_CASE("stop worker runs setup first, then the job on its own thread") {
  std::thread::id setup_on, job_on;
  int policy = -1;
  StopWorker w([&] { setup_on = std::this_thread::get_id(); });
  REQUIRE(w.setup_error().empty());
  CHECK(setup_on != std::thread::id());
  CHECK(setup_on != std::this_thread::get_id());
  w.run([&] {
    job_on = std::this_thread::get_id();
    sched_param sp{};
    pthread_getschedparam(pthread_self(), &policy, &sp);
  });
  CHECK(job_on == setup_on);
  // SCHED_FIFO when the process may take it (root), else normal: either
  // way priority() tells the truth about the thread that ran the job.
  CHECK(std::string(w.priority()) == (policy == SCHED_FIFO ? "SCHED_FIFO 1" : "normal priority"));
}

TEST_CASE("stop worker keeps a failed setup's message and still runs the job") {
  StopWorker w([] { throw std::runtime_error("cannot drop capabilities: nope"); });
  CHECK(w.setup_error() == "cannot drop capabilities: nope");
  bool ran = false;
  w.run([&] { ran = true; });
  CHECK(ran);
}

TEST_CASE("stop worker rethrows what the job threw, and joins without a job") {
  {
    StopWorker idle([] {});
  }  // destroyed without run(): the thread ends, nothing hangs
  StopWorker w([] {});
  CHECK_THROWS_WITH(w.run([] { throw std::runtime_error("detach failed"); }), "detach failed");
}
