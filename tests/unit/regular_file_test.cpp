// open_regular_file: what a user-named path may be, and that a FIFO is
// refused at once instead of blocking the open.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "loader/regular_file.h"

using namespace irqlat;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/irqlat-regular-file-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    for (const char* name : {"/file", "/fifo", "/link", "/new", "/sock"}) unlink((path + name).c_str());
    rmdir(path.c_str());
  }
};

int open_fds() {
  int n = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir)) n++;
    closedir(dir);
  }
  return n;
}

}  // namespace

TEST_CASE("open_regular_file keeps a regular file, blocking and close-on-exec") {
  TempDir d;
  const std::string file = d.path + "/file";
  const int w = open(file.c_str(), O_WRONLY | O_CREAT, 0600);
  REQUIRE(w >= 0);
  REQUIRE(write(w, "x", 1) == 1);
  close(w);
  const RegularFile f = open_regular_file(file, O_RDONLY);
  REQUIRE(f.fd >= 0);
  CHECK(S_ISREG(f.st.st_mode));
  CHECK(f.st.st_size == 1);
  CHECK((fcntl(f.fd, F_GETFL) & O_NONBLOCK) == 0);
  CHECK((fcntl(f.fd, F_GETFD) & FD_CLOEXEC) != 0);
  close(f.fd);
}

TEST_CASE("open_regular_file creates with the mode given") {
  TempDir d;
  const RegularFile f = open_regular_file(d.path + "/new", O_WRONLY | O_CREAT, 0640);
  REQUIRE(f.fd >= 0);
  CHECK((f.st.st_mode & 0777) == (0640 & ~[] { const mode_t m = umask(0); umask(m); return m; }()));
  close(f.fd);
}

TEST_CASE("open_regular_file refuses FIFOs, sockets, directories and devices without blocking") {
  TempDir d;
  const std::string fifo = d.path + "/fifo", sock = d.path + "/sock";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const int s = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const int fds_before = open_fds();
  // A FIFO without a writer or reader: a blocking open would never return,
  // so a lost O_NONBLOCK ends the test run (SIGALRM) instead of hanging it.
  alarm(10);
  for (int flags : {O_RDONLY, O_WRONLY, O_WRONLY | O_CREAT}) {
    const RegularFile f = open_regular_file(fifo, flags, 0600);
    CHECK(f.fd < 0);
    CHECK(f.error == 0);
    CHECK(f.why() == "not a regular file");
  }
  alarm(0);
  for (const std::string& path : {d.path, std::string("/dev/null"), sock}) {
    const RegularFile f = open_regular_file(path, O_RDONLY);
    CHECK(f.fd < 0);
    CHECK(f.why() == "not a regular file");
  }
  CHECK(open_fds() == fds_before);  // nothing refused stays open
  close(s);
}

TEST_CASE("open_regular_file passes on open's own error") {
  TempDir d;
  const RegularFile missing = open_regular_file(d.path + "/none", O_RDONLY);
  CHECK(missing.fd < 0);
  CHECK(missing.error == ENOENT);
  CHECK(missing.why() == "No such file or directory");

  const std::string file = d.path + "/file", link = d.path + "/link";
  close(open(file.c_str(), O_WRONLY | O_CREAT, 0600));
  REQUIRE(symlink(file.c_str(), link.c_str()) == 0);
  const RegularFile via_link = open_regular_file(link, O_RDONLY | O_NOFOLLOW);
  CHECK(via_link.fd < 0);
  CHECK(via_link.error == ELOOP);
  const RegularFile followed = open_regular_file(link, O_RDONLY);
  CHECK(followed.fd >= 0);
  close(followed.fd);
}
