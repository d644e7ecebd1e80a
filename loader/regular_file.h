// Opening a path a user named that must be a regular file (an ELF binary,
// a plugin, a pidfile). A FIFO there would block open() until its other end
// opens, and a device would be read or written as if it were the file, so
// the open is non-blocking and anything but a regular file is refused.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

namespace irqlat {

struct RegularFile {
  int fd = -1;     // blocking again once known to be a regular file
  int error = 0;   // with fd < 0: open's or fstat's errno; 0 = not a regular file
  struct stat st{};
  // Why fd < 0, for a message: strerror(error) or "not a regular file".
  std::string why() const;
};

// open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode), kept only if
// it is a regular file. ENXIO, which only special files give (a FIFO opened
// for writing without a reader, a socket, a device without a driver),
// counts as not a regular file. O_NOCTTY: a terminal named here must not
// become the daemon's controlling terminal on the way to being refused.
RegularFile open_regular_file(const std::string& path, int flags, mode_t mode = 0);

}  // namespace irqlat
