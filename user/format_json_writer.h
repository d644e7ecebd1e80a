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
#include <cstring>
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
    char buf[kItemBuf];
    if (char* p = put_key(buf, k)) {
      s_.append(buf, static_cast<size_t>(p - buf));
      return;
    }
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
  // Numbers (most fields): key and value in one append.
  void field(std::string_view k, uint64_t v) { number_field(k, v); }
  void field(std::string_view k, int v) { number_field(k, v); }

 private:
  template <class T>
  void number(T v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);
    s_.append(buf, static_cast<size_t>(r.ptr - buf));
  }
  // A report is tens of thousands of small items: each is composed on the
  // stack and appended once, not as five appends (their capacity checks
  // and calls were most of the writer's time). Room for the separator, the
  // line break, the indentation, a short key and a 20-digit number.
  static constexpr size_t kItemBuf = 192;
  static constexpr size_t kNumberChars = 24;
  // Writes the item's separator and line break and `"k": ` at p; nullptr
  // (nothing written, nothing changed) when that and a number might not fit.
  char* put_key(char* p, std::string_view k) {
    const size_t pad = indent_ < 0 ? 0 : static_cast<size_t>(depth_ * indent_);
    if (pad + k.size() + 6 + kNumberChars > kItemBuf) return nullptr;
    if (!first_) *p++ = ',';
    first_ = false;
    if (indent_ >= 0) {
      *p++ = '\n';
      std::memset(p, ' ', pad);
      p += pad;
    }
    *p++ = '"';
    std::memcpy(p, k.data(), k.size());
    p += k.size();
    *p++ = '"';
    *p++ = ':';
    if (indent_ >= 0) *p++ = ' ';
    return p;
  }
  template <class T>
  void number_field(std::string_view k, T v) {
    char buf[kItemBuf];
    char* p = put_key(buf, k);
    if (!p) {
      key(k);
      number(v);
      return;
    }
    p = std::to_chars(p, p + kNumberChars, v).ptr;
    s_.append(buf, static_cast<size_t>(p - buf));
  }
  void newline() {
    if (indent_ < 0) return;
    const size_t pad = static_cast<size_t>(depth_ * indent_);
    if (pad + 1 <= kItemBuf) {
      char buf[kItemBuf];
      buf[0] = '\n';
      std::memset(buf + 1, ' ', pad);
      s_.append(buf, pad + 1);
      return;
    }
    s_ += '\n';
    s_.append(pad, ' ');
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
