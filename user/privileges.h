// Capabilities the daemon keeps after loading its programs. Everything else
// (CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SETUID, ...) leaves the effective,
// permitted, inheritable and bounding sets, and no_new_privs is set.
#pragma once

#include <string>
#include <vector>

namespace irqlat {

// Keeps CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN (uprobe/USDT attach on `ctl
// attach`, older kernels), CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (reading
// /proc/PID of other users' processes). Returns the names of the kept
// capabilities; throws std::runtime_error if the kernel refuses.
std::vector<std::string> drop_unneeded_capabilities();

// Effective capabilities of this process, as a bit mask (for tests/status).
unsigned long long effective_capabilities();

}  // namespace irqlat
