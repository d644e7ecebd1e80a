// A streaming JSON writer that prints exactly what nlohmann::json::dump()
// prints for the same document (indent 2 or compact, ensure_ascii off,
// invalid UTF-8 replaced), without building the document first: a report
// with thousands of windows is millions of small allocations as a DOM.
//
// The caller writes the keys of each object in sorted order (nlohmann's
// objects are std::maps); tests/unit/format_test.cpp checks the output
// against report_to_json().dump().
#pragma once

#include <charconv>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace irqlat {

class JsonWriter {
 public:
  // indent < 0: one line, no spaces (dump(-1)); otherwise dump(indent).
  // sink(out), if given, takes what is in `out` and empties it: flush()
  // and flush_if_full() call it.
  JsonWriter(std::string& out, int indent, std::function<void(std::string&)> sink = {})
      : s_(out), indent_(indent), sink_(std::move(sink)) {}

  void flush() {
    if (sink_ && !s_.empty()) sink_(s_);
  }
  void flush_if_full(size_t at = 64 * 1024) {
    if (s_.size() >= at) flush();
  }

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }

  // A key of the current object; its value follows. `k` is plain ASCII.
  void key(std::string_view k) {
    item();
    s_ += '"';
    s_ += k;
    s_ += indent_ < 0 ? "\":" : "\": ";
  }
  // An element of the current array: call before each value.
  void element() { item(); }

  void value(uint64_t v) { number(v); }
  void value(int v) { number(v); }
  void value(bool v) { s_ += v ? "true" : "false"; }
  void null() { s_ += "null"; }
  void value(std::string_view v) {
    // Printable ASCII without quotes or backslashes is written as is; any
    // other string goes through nlohmann, so escapes and replacements match.
    for (const char c : v)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e || c == '"' || c == '\\') {
        s_ += nlohmann::json(std::string(v)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return;
      }
    s_ += '"';
    s_ += v;
    s_ += '"';
  }
  void value(const char* v) { value(std::string_view(v)); }
  void value(const std::string& v) { value(std::string_view(v)); }

  template <class T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

 private:
  template <class T>
  void number(T v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);
    s_.append(buf, r.ptr);
  }
  void newline() {
    if (indent_ < 0) return;
    s_ += '\n';
    s_.append(static_cast<size_t>(depth_ * indent_), ' ');
  }
  // Separator and line break before an item (key or array element).
  void item() {
    if (!first_) s_ += ',';
    first_ = false;
    newline();
  }
  void open(char c) {
    s_ += c;
    depth_++;
    first_ = true;
  }
  // An empty container stays "{}" / "[]"; otherwise the closing bracket
  // goes on its own line. The parent has an item (this one): not first.
  void close(char c) {
    depth_--;
    if (!first_) newline();
    s_ += c;
    first_ = false;
  }

  std::string& s_;
  int indent_;
  std::function<void(std::string&)> sink_;
  int depth_ = 0;
  bool first_ = true;
};

}  // namespace irqlat
