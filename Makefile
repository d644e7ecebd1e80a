# irqlat build. `make` builds everything into build/; `make test` and
# `make demo` first install the Debian packages they need (`make deps`).

BUILD      ?= build
CLANG      ?= clang
BPFTOOL    ?= bpftool
CXX        ?= g++
GO         ?= go
ARCH_INC   := /usr/include/$(shell uname -m)-linux-gnu

BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -Wall -Wextra -Werror -Wno-unused-parameter \
              -D__TARGET_ARCH_x86 -I. -Ibpf -I$(ARCH_INC)
CXXFLAGS   ?= -O2 -g
CXXFLAGS   += -std=c++20 -Wall -Wextra -Werror -I. -Iuser -Iloader -Iinclude -I$(BUILD)
LDLIBS     := -lbpf -lelf -lz -ldeflate -lzstd -lfmt -lpthread
# cpp-httplib (and with it OpenSSL and brotli) is linked into the metrics
# plugin only, which the daemon loads for --metrics (user/metrics_server.h).
METRICS_PLUGIN := $(BUILD)/irqlat-metrics.so
HTTPLIB_CFLAGS := $(shell pkg-config --cflags cpp-httplib 2>/dev/null)
HTTPLIB_LIBS   := $(shell pkg-config --libs cpp-httplib 2>/dev/null || echo -lcpp-httplib)
# IRQLAT_DEBUG_CHECKS: invariant checks too costly for the hot path of a
# release build (the unit tests and the fuzzer run with them).
SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
              -DIRQLAT_DEBUG_CHECKS

DEB_PACKAGES := make g++ clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libdeflate-dev libzstd-dev pkg-config \
                libcli11-dev nlohmann-json3-dev libfmt-dev libcpp-httplib-dev catch2 \
                systemtap-sdt-dev golang-go python3 python3-pytest linux-perf \
                stress-ng rt-tests bpftrace util-linux iproute2 libclang-rt-dev prometheus valgrind \
                groff-base systemd binutils

USER_SRCS   := $(filter-out user/main.cpp,$(wildcard user/*.cpp)) $(wildcard loader/*.cpp)
USER_OBJS   := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(USER_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/*.cpp)
# Unit tests run under ASan+UBSan: every collector source is rebuilt with them.
SAN_OBJS    := $(patsubst %.cpp,$(BUILD)/san/%.o,$(USER_SRCS) $(UNIT_SRCS))
EXAMPLES    := $(BUILD)/cancel_loop $(BUILD)/gocancel
TARGETS_BIN := $(patsubst tests/targets/%.cpp,$(BUILD)/targets/%,$(wildcard tests/targets/*.cpp))

.PHONY: all deps test unit integration demo bench clean install uninstall
all: $(BUILD)/irqlat $(METRICS_PLUGIN) $(EXAMPLES) $(TARGETS_BIN)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD)/irqlat.bpf.o: bpf/irqlat.bpf.c bpf/irqlat.h bpf/compat.bpf.h vmlinux.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.cpp $(BUILD)/irqlat.skel.h $(wildcard user/*.h loader/*.h bpf/irqlat.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.cpp $(BUILD)/irqlat.skel.h $(wildcard user/*.h loader/*.h bpf/irqlat.h tests/unit/*.h include/irqlat/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/irqlat: $(BUILD)/obj/user/main.o $(USER_OBJS)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDLIBS)

$(METRICS_PLUGIN): user/plugins/metrics_http.cpp user/metrics_server.h user/version.h | $(BUILD)
	$(CXX) $(CXXFLAGS) $(HTTPLIB_CFLAGS) -fPIC -shared -fvisibility=hidden -Wl,--no-undefined $< -o $@ \
	  $(HTTPLIB_LIBS) -lpthread

$(BUILD)/unit_tests: $(SAN_OBJS)
	$(CXX) $(CXXFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

# Kernel-side unit tests: the real programs driven by BPF_PROG_TEST_RUN (root).
$(BUILD)/kernel_tests: tests/kernel/nesting_test.cpp $(BUILD)/irqlat.skel.h bpf/irqlat.h
	$(CXX) $(CXXFLAGS) $(SAN_FLAGS) $< -o $@ $(LDLIBS)

$(BUILD)/cancel_loop: examples/cancel_loop.cpp include/irqlat/probes.h include/irqlat/example_util.h | $(BUILD)
	$(CXX) $(CXXFLAGS) -O2 $< -o $@ -lpthread

$(BUILD)/gocancel: $(wildcard examples/gocancel/*.go) | $(BUILD)
	cd examples/gocancel && GOCACHE=$(abspath $(BUILD))/gocache GOFLAGS=-mod=mod \
	  $(GO) build -o $(abspath $@) .

$(BUILD)/targets/%: tests/targets/%.cpp include/irqlat/probes.h include/irqlat/example_util.h
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -O2 $< -o $@ -lpthread

$(BUILD):
	mkdir -p $@

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

# IRQLAT_ASAN_FRESH: make has just brought $(BUILD)/irqlat-asan up to date
# (below), so the recording tests must use it.
test: deps all $(BUILD)/unit_tests $(BUILD)/kernel_tests
	IRQLAT_ASAN_FRESH=1 tests/run_all.sh $(BUILD)

demo: deps all
	examples/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)

# `make bench`: the performance suite (bench/README.md); BENCH_QUICK=1 for a
# smoke run. Results go to bench/results/latest.md.
include bench/bench.mk

bench: all $(BENCH_BINS)
	bench/run.sh $(BUILD)

# Recording tools (issue 4/6): build/bench/gen_recording N FILE writes a
# synthetic recording of N events, to time `irqlat report` on big inputs.
GEN_RECORDING := $(BUILD)/bench/gen_recording
.PHONY: bench-tools fuzz
all: bench-tools
bench-tools: $(GEN_RECORDING)

$(GEN_RECORDING): bench/gen_recording.cpp $(USER_OBJS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< $(USER_OBJS) -o $@ $(LDLIBS)

# `make fuzz`: libFuzzer on the recording reader and the report built from it
# (tests/fuzz/recording_fuzz.cpp) for FUZZ_SECONDS. New inputs go to
# build/fuzz/corpus (tests/fuzz/corpus is the committed seed corpus); a crash
# leaves build/fuzz/crash-* and fails the target.
FUZZ_SECONDS ?= 60
FUZZ_CXX     ?= clang++
FUZZ_FLAGS   := -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer -Wall -Wextra -Werror -I. -Iuser -Iinclude -DIRQLAT_DEBUG_CHECKS
FUZZ_SRCS    := tests/fuzz/recording_fuzz.cpp \
                $(addprefix user/,recording.cpp replay.cpp collector.cpp timeline.cpp windows.cpp \
                  histogram.cpp names.cpp irq_tables.cpp report_builder.cpp reorder.cpp parse.cpp \
                  kernel_threads.cpp proc_interrupts.cpp \
                  format_json.cpp format_table.cpp format_csv.cpp) \
                loader/regular_file.cpp

FUZZ_OBJS    := $(patsubst %.cpp,$(BUILD)/fuzz/obj/%.o,$(FUZZ_SRCS))

$(BUILD)/fuzz/obj/%.o: %.cpp $(wildcard user/*.h loader/*.h) bpf/irqlat.h
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -c $< -o $@

$(BUILD)/fuzz/recording_fuzz: $(FUZZ_OBJS)
	$(FUZZ_CXX) $(FUZZ_FLAGS) $^ -o $@ -lz -ldeflate -lzstd -lfmt

fuzz: $(BUILD)/fuzz/recording_fuzz
	@mkdir -p $(BUILD)/fuzz/corpus
	$< -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
	  -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus tests/fuzz/corpus

# irqlat built with ASan+UBSan (from the unit tests' objects): the recording
# integration tests run `report` on damaged files with it.
$(BUILD)/irqlat-asan: $(BUILD)/san/user/main.o $(patsubst %.cpp,$(BUILD)/san/%.o,$(USER_SRCS))
	$(CXX) $(CXXFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)
test: $(BUILD)/irqlat-asan

# `make install` / `make uninstall` (GNU conventions: PREFIX, DESTDIR): the
# binary (root tool: sbin), the metrics plugin (in ../lib/irqlat from the
# binary, where it looks), the man page and the systemd unit, whose
# ExecStart is rewritten to the installed binary. Builds $(BUILD)/irqlat if
# needed, never runs `make deps`.
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
# Not a setting: the binary looks for the plugin in ../lib/irqlat from itself.
override PLUGINDIR := $(patsubst %/,%,$(dir $(patsubst %/,%,$(SBINDIR))))/lib/irqlat
INSTALL ?= install

install: $(BUILD)/irqlat $(METRICS_PLUGIN) dist/irqlat.8 dist/irqlat.service
	$(INSTALL) -D -m 0755 $(BUILD)/irqlat $(DESTDIR)$(SBINDIR)/irqlat
	$(INSTALL) -d -m 0755 $(DESTDIR)$(PLUGINDIR)
	$(INSTALL) -m 0644 $(METRICS_PLUGIN) $(DESTDIR)$(PLUGINDIR)/irqlat-metrics.so
	$(INSTALL) -D -m 0644 dist/irqlat.8 $(DESTDIR)$(MANDIR)/man8/irqlat.8
	$(INSTALL) -D -m 0644 dist/irqlat.service $(DESTDIR)$(UNITDIR)/irqlat.service
	sed -i 's|@SBINDIR@|$(SBINDIR)|g' $(DESTDIR)$(UNITDIR)/irqlat.service

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/irqlat $(DESTDIR)$(PLUGINDIR)/irqlat-metrics.so \
	  $(DESTDIR)$(MANDIR)/man8/irqlat.8 $(DESTDIR)$(UNITDIR)/irqlat.service
	[ ! -d $(DESTDIR)$(PLUGINDIR) ] || rmdir --ignore-fail-on-non-empty $(DESTDIR)$(PLUGINDIR)
