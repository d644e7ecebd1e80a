// ELF look-ups for cancel/done markers, done before attaching so that a
// missing file, symbol or probe is refused with a message that names it.
#pragma once

#include <cstdint>
#include <string>

namespace irqlat {

// File offset of SYMBOL+OFFSET in the ELF file at PATH (what uprobes take);
// OFFSET must fall inside the symbol. Works for Go symbols such as
// "context.(*cancelCtx).cancel". Throws LoaderError, also for a file that is
// not a regular ELF file (a FIFO is refused, never waited on).
uint64_t elf_symbol_file_offset(const std::string& path, const std::string& symbol,
                                uint64_t offset = 0);

// Throws LoaderError unless PATH has the USDT probe PROVIDER:NAME.
void elf_require_usdt(const std::string& path, const std::string& provider,
                      const std::string& name);

// True if PATH has the USDT probe; false also when PATH is no ELF file (a
// script) or cannot be read (no exception).
bool elf_has_usdt(const std::string& path, const std::string& provider, const std::string& name);

}  // namespace irqlat
