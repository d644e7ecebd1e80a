// Output formats of a Report (SPEC section 6). Pure: they write only to the
// stream they are given.
//   table  for people: aligned columns, units via format_ns
//   json   the stable interface (required keys of SPEC section 6, plus extras)
//   csv    one section per table: "# name" line, column header line, rows
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "report.h"

namespace irqlat {

struct TableOptions {
  int top = 5;                 // worst windows itemized
  int top_causes = 3;          // IRQs / softirqs / preemptors shown per itemized window
  bool show_idle_irqs = false; // also print IRQ/softirq rows with count 0
};

void write_table(std::ostream& out, const Report& report, const TableOptions& opts);

// The JSON document. windows.list is sorted by start_ns.
nlohmann::json report_to_json(const Report& report);
// pretty: indented document; otherwise one line (for --interval streams).
// Always ends with a newline.
void write_json(std::ostream& out, const Report& report, bool pretty = true);

void write_csv(std::ostream& out, const Report& report);

}  // namespace irqlat
