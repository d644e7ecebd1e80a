// See elf_probe.h. libelf does the parsing; we only walk symbols and notes.
#include "loader/elf_probe.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>

#include "loader/loader.h"
#include "loader/regular_file.h"

namespace irqlat {
namespace {

// An open ELF file; closes itself.
class ElfFile {
 public:
  explicit ElfFile(const std::string& path) : path_(path) {
    if (elf_version(EV_CURRENT) == EV_NONE) throw LoaderError("libelf initialisation failed");
    const RegularFile f = open_regular_file(path, O_RDONLY);
    if (f.fd < 0)
      throw LoaderError(f.error ? "cannot open " + path + ": " + f.why() : path + " is not a regular file");
    fd_ = f.fd;
    elf_ = elf_begin(fd_, ELF_C_READ, nullptr);
    if (!elf_ || elf_kind(elf_) != ELF_K_ELF) {
      cleanup();
      throw LoaderError(path + " is not an ELF executable");
    }
  }
  ~ElfFile() { cleanup(); }
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;
  Elf* get() const { return elf_; }

 private:
  void cleanup() {
    if (elf_) elf_end(elf_);
    if (fd_ >= 0) close(fd_);
    elf_ = nullptr;
    fd_ = -1;
  }
  std::string path_;
  int fd_ = -1;
  Elf* elf_ = nullptr;
};

// Converts a virtual address to a file offset through the section holding it.
bool vaddr_to_offset(Elf* elf, uint64_t addr, uint64_t* off) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn))) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !(sh.sh_flags & SHF_EXECINSTR))
      continue;
    if (addr >= sh.sh_addr && addr < sh.sh_addr + sh.sh_size) {
      *off = addr - sh.sh_addr + sh.sh_offset;
      return true;
    }
  }
  return false;
}

// The addresses where instructions of the code at [from, to) start, as
// objdump (binutils) disassembles it; `where` names the probe in errors.
std::set<uint64_t> disassemble_starts(const std::string& path, uint64_t from, uint64_t to,
                                      const std::string& where) {
  char start[32], stop[32];
  snprintf(start, sizeof(start), "--start-address=0x%llx", static_cast<unsigned long long>(from));
  snprintf(stop, sizeof(stop), "--stop-address=0x%llx", static_cast<unsigned long long>(to));
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw LoaderError("cannot check " + where + ": pipe: " + strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::string file = path;
  // -z: runs of zero bytes are instructions too, not "...".
  char* argv[] = {const_cast<char*>("objdump"), const_cast<char*>("-d"), const_cast<char*>("-z"),
                  const_cast<char*>("--no-show-raw-insn"), start, stop, const_cast<char*>("--"), file.data(), nullptr};
  pid_t pid;
  // Default signals, none blocked: the daemon ignores SIGPIPE and blocks its
  // stop signals, and objdump must die of a closed pipe.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, pipe_only;
  sigemptyset(&none);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &pipe_only);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const int err = posix_spawnp(&pid, "objdump", &fa, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (err != 0) {
    close(out[0]);
    throw LoaderError("cannot check that " + where + " starts an instruction: objdump: " + strerror(err) +
                      " (install binutils, or probe the symbol without an offset)");
  }
  // Reaps objdump on every way out, a throw from the reading included.
  struct Child {
    pid_t pid;
    int fd;
    int status = 0;
    bool reaped = false;
    void reap() {
      if (fd >= 0) close(fd);
      fd = -1;
      while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      reaped = true;
    }
    ~Child() { reap(); }
  } child{pid, out[0]};
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = read(child.fd, buf, sizeof(buf))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  child.reap();
  const int status = child.status;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw LoaderError("cannot check that " + where + " starts an instruction: objdump failed");
  // Instruction lines: "    2376:\tlea ...".
  std::set<uint64_t> starts;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    unsigned long long a;
    char colon, tab;
    std::istringstream l(line);
    if (l >> std::hex >> a >> std::noskipws >> colon >> tab && colon == ':' && tab == '\t') starts.insert(a);
  }
  return starts;
}

// The code range of one version of a file: the key of what objdump said.
struct CodeRange {
  dev_t dev;
  ino_t ino;
  int64_t mtime_s, mtime_ns;
  off_t size;
  uint64_t from, to;
  auto key() const { return std::tie(dev, ino, mtime_s, mtime_ns, size, from, to); }
  bool operator<(const CodeRange& o) const { return key() < o.key(); }
};

// Whether from + offset starts an instruction of the code at [from, to). A
// uprobe inside an instruction would overwrite one of its bytes with int3
// and silently change what the target computes, so an offset is refused
// unless this says yes. Each marker is resolved when the options are
// checked and again when it is attached: objdump runs once per file version.
void check_instruction_start(const std::string& path, const std::string& symbol, uint64_t from, uint64_t to,
                             uint64_t offset) {
  const std::string where = "offset +" + std::to_string(offset) + " of '" + symbol + "' in " + path;
  static std::mutex mu;
  static std::map<CodeRange, std::set<uint64_t>> seen;
  struct stat st;
  std::set<uint64_t> starts;
  if (stat(path.c_str(), &st) != 0) {
    starts = disassemble_starts(path, from, to, where);
  } else {
    const CodeRange range{st.st_dev, st.st_ino, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size, from, to};
    std::lock_guard<std::mutex> lock(mu);
    auto it = seen.find(range);
    if (it == seen.end()) it = seen.emplace(range, disassemble_starts(path, from, to, where)).first;
    starts = it->second;
  }
  if (!starts.count(from + offset))
    throw LoaderError(where + " is inside an instruction, not at its start (objdump -d shows where they start)");
}

}  // namespace

uint64_t elf_symbol_file_offset(const std::string& path, const std::string& symbol, uint64_t offset) {
  ElfFile f(path);
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(f.get(), scn))) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
      continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || sh.sh_entsize == 0) continue;
    size_t n = sh.sh_size / sh.sh_entsize;
    for (size_t i = 0; i < n; i++) {
      GElf_Sym sym;
      if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
          sym.st_value == 0)
        continue;
      const char* name = elf_strptr(f.get(), sh.sh_link, sym.st_name);
      if (!name || symbol != name) continue;
      // A size of 0 (hand-written assembly) says nothing: any offset goes.
      if (sym.st_size != 0 && offset >= sym.st_size)
        throw LoaderError("offset +" + std::to_string(offset) + " is past the end of '" + symbol + "' (" +
                          std::to_string(sym.st_size) + " bytes) in " + path);
      // The instruction holding the offset ends within 15 bytes of it.
      if (offset != 0)
        check_instruction_start(path, symbol, sym.st_value,
                                sym.st_size != 0 ? sym.st_value + sym.st_size : sym.st_value + offset + 16, offset);
      uint64_t off;
      if (!vaddr_to_offset(f.get(), sym.st_value + offset, &off))
        throw LoaderError(offset ? "offset +" + std::to_string(offset) + " of '" + symbol + "' in " + path +
                                       " is not in executable code"
                                 : "symbol '" + symbol + "' in " + path + " is not in executable code");
      return off;
    }
  }
  // "main+abc": the parser keeps a '+' not followed by a number in the
  // symbol (C++ operators), so a mistyped offset lands here.
  const bool plus = symbol.find('+') != std::string::npos;
  throw LoaderError("symbol '" + symbol + "' not found in " + path +
                    (plus ? " (an offset after '+' is decimal or 0x hex)" : ""));
}

namespace {
bool has_usdt(const ElfFile& f, const std::string& provider, const std::string& name) {
  size_t shstrndx;
  if (elf_getshdrstrndx(f.get(), &shstrndx) != 0) return false;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(f.get(), scn))) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE) continue;
    const char* sname = elf_strptr(f.get(), shstrndx, sh.sh_name);
    if (!sname || std::strcmp(sname, ".note.stapsdt") != 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) continue;
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
      // desc: pc, base, semaphore (3 addresses), then "provider\0name\0args\0".
      const char* desc = static_cast<const char*>(data->d_buf) + desc_off;
      size_t addr_bytes = 3 * 8;
      if (nh.n_type != 3 || nh.n_descsz <= addr_bytes) continue;
      const char* prov = desc + addr_bytes;
      size_t rest = nh.n_descsz - addr_bytes;
      size_t plen = strnlen(prov, rest);
      if (plen + 1 >= rest) continue;
      const char* pname = prov + plen + 1;
      if (strnlen(pname, rest - plen - 1) == rest - plen - 1) continue;
      if (provider == prov && name == pname) return true;
    }
  }
  return false;
}
}  // namespace

bool elf_has_usdt(const std::string& path, const std::string& provider, const std::string& name) {
  try {
    return has_usdt(ElfFile(path), provider, name);
  } catch (const LoaderError&) {
    return false;  // not there, not readable, not ELF (a script): no probe
  }
}

void elf_require_usdt(const std::string& path, const std::string& provider,
                      const std::string& name) {
  if (!has_usdt(ElfFile(path), provider, name))
    throw LoaderError("USDT probe " + provider + ":" + name + " not found in " + path);
}

}  // namespace irqlat
