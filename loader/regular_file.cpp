// See regular_file.h.
#include "loader/regular_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace irqlat {

std::string RegularFile::why() const { return error ? std::strerror(error) : "not a regular file"; }

RegularFile open_regular_file(const std::string& path, int flags, mode_t mode) {
  RegularFile f;
  const int fd = open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode);
  if (fd < 0) {
    f.error = errno == ENXIO ? 0 : errno;
    return f;
  }
  int fl;
  if (fstat(fd, &f.st) != 0) f.error = errno;
  else if (!S_ISREG(f.st.st_mode)) f.error = 0;
  else if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) f.error = errno;
  else {
    f.fd = fd;
    return f;
  }
  close(fd);
  return f;
}

}  // namespace irqlat
