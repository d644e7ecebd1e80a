// `irqlat ctl VERB`: one request to the daemon's control socket, one reply
// printed. Exit 0 on success, 1 when the daemon is unreachable or answers
// with an error.
#pragma once

#include "user/options.h"

namespace irqlat {

int run_ctl(const Options& opts);

}  // namespace irqlat
