// ELF look-ups for cancel/done markers, done before attaching so that a
// missing file, symbol or probe is refused with a message that names it.
#pragma once

#include <cstdint>
#include <string>

namespace irqlat {

// File offset of SYMBOL's entry in the ELF file at PATH (what uprobes take).
// Works for Go symbols such as "context.(*cancelCtx).cancel". Throws LoaderError.
uint64_t elf_symbol_file_offset(const std::string& path, const std::string& symbol);

// Throws LoaderError unless PATH has the USDT probe PROVIDER:NAME.
void elf_require_usdt(const std::string& path, const std::string& provider,
                      const std::string& name);

// True if PATH has the USDT probe (no exception).
bool elf_has_usdt(const std::string& path, const std::string& provider, const std::string& name);

}  // namespace irqlat
