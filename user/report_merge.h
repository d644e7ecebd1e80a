// The final tables of `trace --interval`: every interval table added into a
// running total, so they cover the whole run, as they do without -i.
#pragma once

#include "user/report.h"

namespace irqlat {

// Adds `part`, the table of the interval that follows what `run` covers,
// into `run` (an empty Report takes `part` as it is).
//
// Interrupt and thread rows are summed (counts, times, histograms; maxima
// are the larger one; percentiles come from the summed histograms, as for
// a table never reset). What the session never resets (event counts,
// windows) is cumulative in every table already: `part`'s is taken.
// When both carry /proc's counts (Report::proc_irqs), those are summed and
// proc_count and irq_unseen are worked out again over the whole run;
// otherwise they are summed as they are.
void add_interval(Report& run, const Report& part);

}  // namespace irqlat
