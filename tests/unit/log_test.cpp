// printable(): what keeps a quoted file name or spec from splitting an
// error or log line.
#include <catch2/catch.hpp>

#include "user/log.h"

using irqlat::printable;

TEST_CASE("printable: control characters become escapes, the rest is kept") {
  CHECK(printable("plain /tmp/a b.json") == "plain /tmp/a b.json");
  CHECK(printable("bogus\nirqlat: tracing fake") == "bogus\\nirqlat: tracing fake");
  CHECK(printable("a\tb\rc") == "a\\tb\\rc");
  CHECK(printable(std::string_view("x\0y\x1b[2J\x7f", 8)) == "x\\x00y\\x1b[2J\\x7f");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 bytes pass as they are
  CHECK(printable("").empty());
}
