// See output.h.
#include "user/output.h"

#include "user/format.h"

namespace irqlat {

void print_report(std::ostream& os, const Report& r, const Options& opts) {
  switch (opts.format) {
    case OutputFormat::Json:
      write_json(os, r);
      break;
    case OutputFormat::Csv:
      write_csv(os, r);
      break;
    default: {
      TableOptions t;
      t.top = opts.top;
      write_table(os, r, t);
    }
  }
  os.flush();
}

}  // namespace irqlat
