// Prints a Report in the format the options ask for (table, json, csv).
// Shared by trace, record and report, so all three print the same way.
#pragma once

#include <ostream>

#include "user/options.h"
#include "user/report.h"

namespace irqlat {

void print_report(std::ostream& os, const Report& r, const Options& opts);

}  // namespace irqlat
