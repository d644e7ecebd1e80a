// See privileges.h. Raw capget/capset: the two syscalls are all this needs.
#include "user/privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace irqlat {
namespace {

struct Kept {
  int cap;
  const char* name;
};
constexpr Kept kKept[] = {{CAP_BPF, "CAP_BPF"},
                          {CAP_PERFMON, "CAP_PERFMON"},
                          {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
                          {CAP_SYS_PTRACE, "CAP_SYS_PTRACE"},
                          {CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"}};

bool kept(int cap) {
  for (const Kept& k : kKept)
    if (k.cap == cap) return true;
  return false;
}

void get_caps(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capget, &hdr, data) != 0)
    throw std::runtime_error(std::string("capget: ") + std::strerror(errno));
}

}  // namespace

unsigned long long effective_capabilities() {
  __user_cap_data_struct data[2]{};
  get_caps(data);
  return (static_cast<unsigned long long>(data[1].effective) << 32) | data[0].effective;
}

std::vector<std::string> drop_unneeded_capabilities() {
  // The bounding set first: it needs CAP_SETPCAP, which goes below. If it
  // cannot shrink (no CAP_SETPCAP), the sets below still do.
  std::string bounding_error;
  for (int cap = 0; cap <= 63; cap++) {
    if (kept(cap)) continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;  // absent or unknown
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL && bounding_error.empty())
      bounding_error = std::strerror(errno);
  }
  __user_cap_data_struct data[2]{};
  get_caps(data);
  uint32_t keep[2] = {0, 0};
  for (const Kept& k : kKept) keep[k.cap / 32] |= 1u << (k.cap % 32);
  for (int i = 0; i < 2; i++) {
    data[i].effective &= keep[i];
    data[i].permitted &= keep[i];
    data[i].inheritable = 0;
  }
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capset, &hdr, data) != 0)
    throw std::runtime_error(std::string("cannot drop capabilities: ") + std::strerror(errno));
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (!bounding_error.empty())
    throw std::runtime_error("capabilities dropped, but not from the bounding set: " + bounding_error);
  std::vector<std::string> names;
  for (const Kept& k : kKept)
    if (data[k.cap / 32].effective & (1u << (k.cap % 32))) names.push_back(k.name);
  return names;
}

}  // namespace irqlat
